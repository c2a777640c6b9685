// 趋势与排名 and 通报: the jurisdiction's breaches and warnings per week or month, its rates
// over time, its courts ranked on each figure (each figure's definition one click away),
// and the weekly or monthly bulletin as a page to print, a PDF or a workbook.

import { $, api, chinese, describe, download, hooks, state, toast } from "./common.js";
import { el } from "./dom.js";

const percent = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const shown = (name, v) => (name === "平均结案用时" ? (v === null ? "—" : `${v} 天`) : percent(v));

// The reports' own refusals, said in Chinese (others: common.js's chinese()).
const REPORT_ERRORS = [
  [/has not begun yet/, "该期间尚未开始"],
  [/is not a week like/, "期间应写作 2026-W48（周）或 2026-11（月）"],
  [/reports reach back/, "只能查询五年以内的期间"],
  [/another bulletin is being laid out/, "另一份通报正在生成 PDF，请稍后再试"],
  [/PDF cannot be made here/, "本机无法生成 PDF，请打印网页或下载 XLSX"],
];

function said(status, detail) {
  const found = REPORT_ERRORS.find(([pattern]) => pattern.test(detail));
  return found ? found[1] : chinese(status, detail);
}

function courtLabel(code) {
  return code === state.me.court_code ? state.me.court_name || code : code;
}

function chart(id) {
  const node = $(id);
  return window.echarts ? echarts.getInstanceByDom(node) || echarts.init(node) : null;
}

// --- trends ----------------------------------------------------------------------------------

async function renderTrends() {
  const kind = $("trends-kind").value;
  const court = state.me.court_code;
  $("trends-scope").textContent = `范围：${courtLabel(court)}及辖区法院`;
  const [trends, rankings] = await Promise.all([
    api(`/v1/trends?court=${encodeURIComponent(court)}&kind=${kind}&count=${kind === "week" ? 12 : 6}`),
    api(`/v1/rankings?court=${encodeURIComponent(court)}`),
  ]);
  const labels = trends.series.map((p) => p.period);
  $("trends-table").replaceChildren(
    el("table", { class: "alerts", "data-testid": "trends-table" },
      el("thead", {}, el("tr", {}, ...["期间", "收案", "结案", "预警", "超期", ...Object.keys(trends.definitions)].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...trends.series.map((p) =>
        el("tr", { title: p.title }, el("td", {}, p.period), el("td", {}, p.filed), el("td", {}, p.closed),
          el("td", {}, p.warnings), el("td", {}, p.breaches),
          ...Object.keys(trends.definitions).map((n) => el("td", {}, percent(p.rates[n])))))),
    ),
  );
  chart("chart-breaches")?.setOption({
    tooltip: { trigger: "axis" }, legend: { data: ["超期", "预警"] },
    xAxis: { type: "category", data: labels }, yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: "超期", type: "bar", data: trends.series.map((p) => p.breaches), itemStyle: { color: "#c0392b" } },
      { name: "预警", type: "bar", data: trends.series.map((p) => p.warnings), itemStyle: { color: "#e6a23c" } },
    ],
  }, true);
  const rateNames = Object.keys(trends.definitions);
  chart("chart-rates")?.setOption({
    tooltip: { trigger: "axis", valueFormatter: (v) => percent(v) }, legend: { data: rateNames },
    xAxis: { type: "category", data: labels }, yAxis: { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${v * 100}%` } },
    series: rateNames.map((n) => ({ name: n, type: "line", data: trends.series.map((p) => p.rates[n]), connectNulls: true })),
  }, true);
  renderRankings(rankings);
}

function renderRankings(rankings) {
  const names = Object.keys(rankings.rankings);
  const select = $("rank-figure");
  if (!select.options.length) select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
  const name = select.value || names[0];
  $("rank-definition").textContent = `${name}：${rankings.definitions[name]}（截至 ${rankings.as_of}）`;
  $("rankings").replaceChildren(
    el("table", { class: "alerts", "data-testid": "rankings" },
      el("thead", {}, el("tr", {}, el("th", {}, "排名"), el("th", {}, "法院"), el("th", {}, name))),
      el("tbody", {}, ...rankings.rankings[name].map((r) =>
        el("tr", {}, el("td", {}, r.rank ?? "—"), el("td", { class: "court-name" }, r.court_name), el("td", {}, shown(name, r.value))))),
    ),
  );
  select.onchange = () => renderRankings(rankings);
}

// --- the bulletin ----------------------------------------------------------------------------

function isoWeek(day) {
  const date = new Date(Date.UTC(day.getFullYear(), day.getMonth(), day.getDate()));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const yearStart = new Date(Date.UTC(date.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((date - yearStart) / 86400000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

function bulletinUrl(format) {
  const period = $("bulletin-period").value.trim();
  return `/v1/bulletin?court=${encodeURIComponent(state.me.court_code)}&period=${encodeURIComponent(period)}&format=${format}`;
}

async function renderBulletin() {
  if (!$("bulletin-period").value) {
    const lastWeek = new Date(Date.now() - 7 * 86400000); // the last whole week, by default
    $("bulletin-period").value = isoWeek(lastWeek);
  }
  let page;
  try {
    const response = await fetch(bulletinUrl("html"), { headers: { Authorization: `Bearer ${state.token}` } });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      const detail = describe(body?.detail ?? response.statusText);
      if (response.status === 401) hooks.expired(chinese(401, detail));
      throw new Error(said(response.status, detail));
    }
    page = await response.text();
  } catch (error) {
    $("bulletin-frame").removeAttribute("srcdoc");
    $("bulletin-error").textContent = `无法生成通报：${error.message}`;
    return;
  }
  $("bulletin-error").textContent = "";
  $("bulletin-frame").srcdoc = page; // the page is the server's, with no script; shown sandboxed
}

for (const format of ["pdf", "xlsx"]) {
  $(`bulletin-${format}`).addEventListener("click", () =>
    download(bulletinUrl(format), `bulletin.${format}`).catch((error) =>
      toast(`下载失败：${error.detail ? said(error.status, error.detail) : error.message}`),
    ),
  );
}
$("bulletin-print").addEventListener("click", () => $("bulletin-frame").contentWindow?.print());
$("bulletin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  renderBulletin();
});
$("trends-kind").addEventListener("change", () => renderTrends().catch((error) => toast(`读取失败：${error.message}`)));

export const trendsView = { render: renderTrends };
export const bulletinView = { render: renderBulletin };
