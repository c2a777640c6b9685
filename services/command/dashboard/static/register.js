// 干预过问登记: the interference register of the jurisdiction, for the command centre and
// discipline inspection (纪检监察), from the supervision service: every record (who, post,
// when, how, what was asked, how it was handled; corrections marked: a record is never
// edited, a correction is a new record naming it), the per-court report, and the register
// as CSV or XLSX.

import { $, caseName, download, instant, state, supervision, supervisionPage, toast } from "./common.js";
import { el } from "./dom.js";

const MANNERS = { phone: "电话", visit: "当面", letter: "信函", message: "短信或网络消息", in_meeting: "会议中", other: "其他方式" };

let context = { openCase: () => {} };

function query() {
  const params = new URLSearchParams({ court: $("register-court").value.trim() || state.me.court_code });
  if ($("register-from").value) params.set("from", $("register-from").value);
  if ($("register-to").value) params.set("to", $("register-to").value);
  return params;
}

async function render(given) {
  context = given || context;
  if (!$("register-court").value) $("register-court").value = state.me.court_code;
  const params = query();
  let page, report;
  try {
    [page, report] = await Promise.all([
      supervisionPage(`/v1/interference?${params}&limit=${PAGE}`),
      supervision(`/v1/interference/report?${params}`),
    ]);
  } catch (error) {
    $("register-records").replaceChildren(el("p", { class: "error" }, `无法读取登记：${error.message}`));
    $("register-report").replaceChildren();
    return;
  }
  renderReport(report);
  shown = { records: page.items, next: page.next, params };
  renderRecords();
}

const PAGE = 200;
let shown = { records: [], next: null, params: null };

async function more() {
  if (!shown.next) return;
  const after = new URLSearchParams(shown.params);
  after.set("after", shown.next);
  try {
    const page = await supervisionPage(`/v1/interference?${after}&limit=${PAGE}`);
    shown = { ...shown, records: [...shown.records, ...page.items], next: page.next };
  } catch (error) {
    $("register-count").textContent = `无法读取更多登记：${error.message}`;
    return;
  }
  renderRecords();
}

function renderRecords() {
  const records = shown.records;
  const corrected = new Set(records.map((r) => r.corrects_record_id).filter(Boolean));
  $("register-count").replaceChildren(
    shown.next ? `已显示 ${records.length} 条登记，还有更多 ` : `共 ${records.length} 条登记`,
    ...(shown.next ? [el("button", { type: "button", dataset: { testid: "register-more" }, onclick: more }, "加载更多")] : []),
  );
  $("register-records").replaceChildren(
    records.length
      ? el(
          "table",
          {},
          el("thead", {}, el("tr", {}, ["案件", "过问人", "职务及单位", "院内/院外", "过问时间", "方式", "过问内容", "处理情况", "登记人", "更正"].map((h) => el("th", {}, h)))),
          el("tbody", {}, records.map((r) => recordRow(r, corrected.has(r.record_id)))),
        )
      : el("p", { class: "muted" }, "本辖区暂无干预过问登记"),
  );
}

function recordRow(r, corrected) {
  const marks = [];
  if (r.corrects_record_id) marks.push(el("span", { class: "mark" }, `更正记录（更正 ${r.corrects_record_id}）`));
  if (corrected) marks.push(el("span", { class: "mark" }, "已有更正记录"));
  return el(
    "tr",
    { class: r.corrects_record_id ? "correction" : "", dataset: { testid: "register-record", record: r.record_id } },
    el("td", {}, el("span", { class: "link", onclick: () => context.openCase(r.case_id) }, caseName(r.case_number))),
    el("td", {}, r.person_name),
    el("td", {}, `${r.person_organisation}${r.person_position}`),
    el("td", {}, r.inside_court ? "院内" : "院外"),
    el("td", {}, instant(r.occurred_at)),
    el("td", {}, MANNERS[r.manner] || r.manner),
    el("td", {}, r.content),
    el("td", {}, r.handling),
    el("td", { title: `登记于 ${instant(r.recorded_at)}` }, r.recorded_by),
    el("td", {}, marks),
  );
}

function renderReport(rows) {
  const manners = Object.keys(MANNERS);
  $("register-report").replaceChildren(
    el(
      "table",
      { dataset: { testid: "register-report-table" } },
      el("thead", {}, el("tr", {}, ["法院", "登记数", "院内", "院外", "更正", ...manners.map((m) => MANNERS[m])].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((row) =>
        el("tr", { dataset: { testid: "register-report-row", court: row.court_code } },
          el("td", {}, row.court_code), el("td", {}, row.records), el("td", {}, row.inside_court),
          el("td", {}, row.outside_court), el("td", {}, row.corrections),
          ...manners.map((m) => el("td", {}, row.by_manner?.[m] || 0)),
        ))),
    ),
  );
}

async function exportRegister(format) {
  const params = query();
  params.set("format", format);
  try {
    const name = await download(`${state.me.supervision_url}/v1/interference/export?${params}`, `干预过问案件登记.${format}`);
    toast(`已导出 ${name}`);
  } catch (error) {
    toast(`导出失败：${error.message}`);
  }
}

$("register-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  render();
});
for (const format of ["csv", "xlsx"]) $(`register-export-${format}`).addEventListener("click", () => exportRegister(format));

export const registerView = { render };
