// The command centre's page: reads the command service's API with the user's token, and
// re-reads what it shows when the board's event stream says a court of the jurisdiction
// changed. Text from the server is only ever set as text (never as HTML).

import { $, ROLE_NAMES, TOKEN_KEY, api, caseName, due, hooks, state, time, toast } from "./common.js";
import { el } from "./dom.js";
import { ACTIONS, commandButton } from "./commands.js";
import { EVENTS } from "./event_names.js";
import { exportBar } from "./exports.js";
import { registerView } from "./register.js";
import { bulletinView, trendsView } from "./reports.js";
import { tasksView } from "./tasks.js";
import { creditSection, zhongbenSection } from "./zhongben.js";

// A clock's state, as every service names it (zhixing.clock_states); "normal" colours a court.
const STATES = { breached: "超期", warned: "预警", running: "运行", paused: "中止", cleared: "已办结", normal: "正常" };
// The figures shown as rates, in order (their definitions come with the figures).
const RATES = [
  "结案率", "实际执结率", "执行完毕率", "法定期限内结案率", "终本率", "终本合格率", "恢复执行率", "保全率",
  "实际到位率", "案款发放及时率",
];

const percent = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
// Whole fen as yuan.
const yuan = (fen) =>
  `${(Number(fen) / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}元`;

// --- login -------------------------------------------------------------------------------

async function login(token) {
  state.token = token.trim();
  try {
    state.me = await api("/v1/me");
  } catch (error) {
    state.token = "";
    sessionStorage.removeItem(TOKEN_KEY);
    $("login-error").textContent = error.status === 401 ? `令牌无效：${error.message}` : `登录失败：${error.message}`;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  const me = state.me;
  $("who-court").textContent = `${me.court_name || me.court_code}（${me.court_code}）`;
  const role = ROLE_NAMES[me.role] || me.role;
  $("who-role").textContent = `${me.subject} · ${role}${me.read_only ? "（只读）" : ""}`;
  $("who-role").dataset.role = me.role;
  const nodes = await api("/v1/board/nodes");
  state.nodes = nodes;
  state.court = me.court_code;
  setUpViews();
  await refresh();
  listen();
}

// --- views: the board, my supervision tasks, the interference register ----------------------

// Management reports: the command centre, leaders, presidents, supervisors and overseers.
const REPORT_ROLES = ["command", "leader", "president", "supervisor", "overseer", "discipline"];
const VIEWS = [
  { id: "board", title: "指挥大屏", roles: null },
  { id: "tasks", title: "我的督办任务", roles: ["supervisor", "leader", "president", "command"], view: tasksView },
  { id: "register", title: "干预过问登记", roles: ["command", "discipline"], view: registerView },
  { id: "trends", title: "趋势与排名", roles: REPORT_ROLES, view: trendsView },
  { id: "bulletin", title: "通报", roles: REPORT_ROLES, view: bulletinView },
];

function setUpViews() {
  const mine = VIEWS.filter((v) => !v.roles || v.roles.includes(state.me.role));
  $("views").hidden = mine.length < 2;
  $("views").replaceChildren(
    ...mine.map((v) =>
      el("button", { type: "button", dataset: { view: v.id, testid: `view-${v.id}` }, onclick: () => showView(v.id) }, v.title),
    ),
  );
  // A supervisor (专人) comes to answer tasks: the queue is the first thing shown.
  showView(state.me.role === "supervisor" ? "tasks" : "board");
}

async function showView(id) {
  state.view = id;
  document.querySelectorAll("#views button").forEach((b) => b.classList.toggle("selected", b.dataset.view === id));
  document.querySelectorAll(".board-view").forEach((part) => (part.hidden = id !== "board"));
  $("app").classList.toggle("single", id !== "board");
  for (const v of VIEWS.filter((v) => v.view)) {
    $(`${v.id}-view`).hidden = v.id !== id;
    if (v.id === id) await v.view.render({ openCase }).catch((error) => toast(`读取失败：${error.message}`));
  }
}

// The token expired or was revoked while the page was open: back to the login form.
hooks.expired = expired;
function expired(reason) {
  state.me = null;
  state.token = "";
  state.stream?.abort();
  sessionStorage.removeItem(TOKEN_KEY);
  closeCase(); // a new login must not find the last user's case open
  $("app").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = `登录已失效，请重新登录（${reason}）`;
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.stream?.abort();
  location.reload();
}

// --- the tree ------------------------------------------------------------------------------

function courtLine(court) {
  const t = court.total;
  return el(
    "div",
    {
      class: `court ${court.state}${court.code === state.court ? " selected" : ""}`,
      dataset: { code: court.code, state: court.state, testid: "court" },
      onclick: (event) => {
        event.stopPropagation();
        selectCourt(court.code);
      },
    },
    el("span", { class: "name", title: court.name }, court.name),
    el(
      "span",
      { class: "figures" },
      el("b", { class: "breached" }, `超期${t.clocks_breached}`), " ",
      el("b", { class: "warned" }, `预警${t.clocks_warned}`), " ",
      `在办${t.open_cases}`,
    ),
  );
}

function renderTree(court) {
  const item = el("li", {}, courtLine(court));
  if (court.children.length) item.append(el("ul", {}, court.children.map(renderTree)));
  return item;
}

function findCourt(court, code) {
  if (!court) return null;
  if (court.code === code) return court;
  for (const child of court.children) {
    const found = findCourt(child, code);
    if (found) return found;
  }
  return null;
}

// --- a court -------------------------------------------------------------------------------

function card(label, value, kind = "") {
  return el("div", { class: `card ${kind}` }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

async function renderCourt() {
  const court = findCourt(state.tree, state.court) || state.tree;
  state.court = court.code;
  const t = court.total;
  // One scope for the whole view: a court with courts below it is shown with them (its
  // jurisdiction), a basic court alone; every card, chart, node and list says the same.
  state.wide = court.children.length > 0;
  $("court-title").textContent = `${court.name}${state.wide ? "（含辖区）" : ""}`;
  $("scope").textContent = state.wide ? `范围：${court.name}辖区（含下级法院）` : `范围：${court.name}（本院）`;
  $("exports").replaceChildren(...exportBar());
  $("cards").replaceChildren(
    card("在办案件", t.open_cases),
    card("运行中期限", t.clocks_running),
    card("预警", t.clocks_warned, "warned"),
    card("超期", t.clocks_breached, "breached"),
    card("中止", t.clocks_paused),
    card("待办指挥事项", t.commands_pending),
  );
  const figures = await api(`/v1/figures/${encodeURIComponent(court.code)}?jurisdiction=true`);
  const r = figures.rates;
  const defined = (name) => ({ title: figures.definitions[name] || "", dataset: { rate: name } });
  $("rates").replaceChildren(
    ...RATES.map((name) => el("span", defined(name), `${name} `, el("b", {}, percent(r[name])))),
    el("span", defined("平均结案用时"), "平均结案用时 ",
      el("b", {}, r["平均结案用时"] === null ? "—" : `${r["平均结案用时"]}天`)),
  );
  $("nodes").replaceChildren(
    ...state.nodes.map((node) =>
      el(
        "button",
        {
          type: "button",
          class: node.id === state.node ? "selected" : "",
          dataset: { node: node.id, testid: "node" },
          onclick: () => selectNode(node.id),
        },
        `${node.title} ${t[`node_${node.id}`]}`,
      ),
    ),
  );
  drawCharts(court);
  await Promise.all([renderAlerts(), renderCommands(), state.node ? renderNodeCases() : null]);
}

function drawCharts(court) {
  if (!window.echarts) {
    $("chart-nodes").textContent = "图表组件未安装（make setup）";
    return;
  }
  const text = { color: "#e6edf7" };
  const openNodes = state.nodes.filter((n) => n.open); // 终本 cases are closed: not in this chart
  const nodeChart = echarts.getInstanceByDom($("chart-nodes")) || echarts.init($("chart-nodes"));
  nodeChart.setOption({
    textStyle: text,
    tooltip: {},
    xAxis: { type: "category", data: openNodes.map((n) => n.title), axisLabel: text },
    yAxis: { type: "value", minInterval: 1, axisLabel: text },
    series: [{ type: "bar", data: openNodes.map((n) => court.total[`node_${n.id}`]), itemStyle: { color: "#3e8ed0" } }],
  });
  const rows = court.children.length ? court.children : [court];
  const courtChart = echarts.getInstanceByDom($("chart-courts")) || echarts.init($("chart-courts"));
  courtChart.setOption({
    textStyle: text,
    tooltip: { trigger: "axis" },
    legend: { textStyle: text },
    grid: { left: 110 },
    yAxis: { type: "category", data: rows.map((c) => c.name), axisLabel: text },
    xAxis: { type: "value", minInterval: 1, axisLabel: text },
    series: [
      ["超期", "clocks_breached", "#e5484d"],
      ["预警", "clocks_warned", "#f5a524"],
      ["正常运行", "clocks_running", "#30a46c"],
    ].map(([name, key, color]) => ({ name, type: "bar", stack: "clocks", data: rows.map((c) => c.total[key]), itemStyle: { color } })),
  });
}

async function selectCourt(code) {
  state.court = code;
  state.node = null;
  $("node-cases").replaceChildren();
  $("tree").querySelectorAll(".court").forEach((line) => line.classList.toggle("selected", line.dataset.code === code));
  await renderCourt();
}

async function selectNode(node) {
  state.node = node;
  $("nodes").querySelectorAll("button").forEach((b) => b.classList.toggle("selected", b.dataset.node === node));
  await renderNodeCases();
}

async function renderNodeCases() {
  const node = state.nodes.find((n) => n.id === state.node);
  const wide = state.wide;
  const answer = await api(
    `/v1/board/courts/${encodeURIComponent(state.court)}/cases?node=${state.node}&limit=100&jurisdiction=${wide}`,
  );
  const where = wide ? "辖区" : "本院";
  // The node 终本 holds cases closed as 终本 while their re-query lasts: when each closed,
  // and how many re-query rounds have started.
  const closed = node && !node.open;
  $("node-cases").replaceChildren(
    el("p", { class: "muted" }, closed
      ? `${where}终本案件（定期查询期间内）${answer.total} 件`
      : `${where}${node?.title}节点在办案件 ${answer.total} 件`),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, el("th", {}, "案号"), wide ? el("th", {}, "法院") : [], el("th", {}, "立案时间"),
        closed ? [el("th", {}, "终本结案时间"), el("th", {}, "定期查询次数")] : [])),
      el(
        "tbody",
        {},
        answer.cases.map((c) =>
          el(
            "tr",
            { dataset: { testid: "node-case" } },
            el("td", {}, el("span", { class: "link", onclick: () => openCase(c.case_id) }, caseName(c.case_number))),
            wide ? el("td", {}, c.court_name) : [],
            el("td", {}, time(c.filed_at)),
            closed ? [el("td", {}, time(c.closed_at)), el("td", {}, `${c.requeries} 次`)] : [],
          ),
        ),
      ),
    ),
  );
}

// --- warnings and breaches -----------------------------------------------------------------

async function renderAlerts() {
  const params = new URLSearchParams({ court: $("filter-court").value.trim() || state.court, sort: state.sort });
  const picked = $("filter-state").value;
  if (picked) params.append("state", picked);
  const rule = $("filter-rule").value.trim();
  if (rule) params.set("rule", rule);
  let answer;
  try {
    answer = await api(`/v1/board/alerts?${params}`);
  } catch (error) {
    $("alert-rows").replaceChildren();
    $("alert-count").textContent = `无法读取：${error.message}`;
    return;
  }
  document.querySelectorAll("th[data-sort]").forEach((th) => {
    th.classList.toggle("sorted", th.dataset.sort.replace("-", "") === state.sort.replace("-", ""));
    th.classList.toggle("desc", state.sort.startsWith("-"));
  });
  $("alert-count").textContent = `共 ${answer.total} 项`;
  $("alert-rows").replaceChildren(
    ...answer.alerts.map((a) =>
      el(
        "tr",
        { dataset: { testid: "alert", state: a.state, clock: a.clock_id } },
        el("td", {}, el("span", { class: `state ${a.state}` }, STATES[a.state] || a.state)),
        el("td", { title: a.source }, a.title),
        el("td", {}, a.case_id
          ? el("span", { class: "link", dataset: { testid: "alert-case" }, onclick: () => openCase(a.case_id) }, caseName(a.case_number))
          : el("span", { class: "muted" }, "未关联案件")),
        el("td", {}, a.court_name),
        el("td", {}, due(a.last_day, a.due_at)),
        el("td", {}, a.level ? `第${a.level}级 → ${a.escalated_to}` : ""),
        el("td", {}, commandButton("urge", a.case_id, caseName(a.case_number), a.title)),
      ),
    ),
  );
}

async function renderCommands() {
  const wide = state.wide;
  const pending = await api(`/v1/board/courts/${encodeURIComponent(state.court)}/commands?jurisdiction=${wide}`);
  $("commands").replaceChildren(
    pending.length
      ? el(
          "table",
          {},
          el("tbody", {}, pending.map((c) =>
            el("tr", { dataset: { testid: "pending-command" } },
              el("td", {}, ACTIONS[c.action] || c.action),
              el("td", {}, c.case_id
                ? el("span", { class: "link", onclick: () => openCase(c.case_id) }, caseName(c.case_number))
                : "（不涉及具体案件）"),
              el("td", {}, c.court_name),
              el("td", {}, time(Number(c.issued_at))),
            ),
          )),
        )
      : el("p", { class: "muted" }, `${wide ? "辖区" : "本院"}暂无待办指挥事项`),
  );
}

// --- a case --------------------------------------------------------------------------------

async function openCase(caseId) {
  state.caseId = caseId;
  $("case").hidden = false;
  await renderCase();
}

async function renderCase() {
  const caseId = state.caseId;
  const [overview, clocks, timeline] = await Promise.all([
    api(`/v1/cases/${encodeURIComponent(caseId)}`),
    api(`/v1/subjects/${encodeURIComponent(caseId)}/clocks`),
    api(`/v1/cases/${encodeURIComponent(caseId)}/timeline`),
  ]);
  const label = overview.label;
  $("case-title").textContent = `${label} · ${overview.court_name || overview.court_code}`;
  $("case-actions").replaceChildren(
    // An application not yet docketed can only be urged (督办) to be docketed.
    ...Object.keys(ACTIONS)
      .filter((action) => overview.node !== "received" || action === "urge")
      .map((action) => commandButton(action, caseId, label)),
  );
  const funds = overview.funds;
  $("case-funds").replaceChildren(
    card("到账", yuan(funds.received_fen)),
    card("已发放", yuan(funds.paid_fen)),
    card("延缓发放（含待审批）", yuan(funds.held_fen), funds.held_fen ? "warned" : ""),
    card("提存", yuan(funds.lodged_fen)),
    card("在账", yuan(funds.in_account_fen)),
  );
  $("case-accounts").textContent = funds.account_number
    ? `案款账户 ${funds.account_number} · 申请执行人收款账户 ${funds.receiving_account || "未登记"}`
    : "尚未开立案款账户";
  $("case-zhongben").replaceChildren(...zhongbenSection(overview.zhongben, openCase));
  $("case-credit").replaceChildren(...creditSection(overview.credit));
  $("case-clocks").replaceChildren(
    ...clocks.map((c) =>
      el("tr", {},
        el("td", { title: c.rule.source }, c.rule.title),
        el("td", {}, STATES[c.state] || c.state),
        el("td", {}, due(c.last_day, Date.parse(c.due_at))),
        el("td", {}, findCourt(state.tree, c.court_code)?.name || c.court_code),
      ),
    ),
  );
  $("case-timeline").replaceChildren(
    ...timeline.map((e) =>
      el(
        "li",
        { dataset: { testid: "timeline-entry", event: e.event, clock: e.payload.clock?.clock_id || "" } },
        el("b", {}, EVENTS[e.event] || e.event), " ",
        el("span", { class: "muted", dataset: { testid: "timeline-actor" } }, `${time(Date.parse(e.at))} · ${e.actor_name}`),
        e.clock_title ? el("span", { class: "muted", title: e.payload.clock.rule_id }, ` · ${e.clock_title}`) : "",
        e.summary ? el("div", { class: "summary" }, e.summary) : "",
        el("div", { class: "audit" }, e.audit ? `审计链 #${e.audit.seq} ${e.audit.hash.slice(0, 16)}…` : "审计记录待写入"),
      ),
    ),
  );
}

// --- live updates --------------------------------------------------------------------------

let refreshTimer = null;

async function refresh() {
  state.tree = (await api(`/v1/board/tree`)).root;
  $("tree").replaceChildren(renderTree(state.tree));
  await renderCourt();
  if (state.caseId && !$("case").hidden) await renderCase();
  $("live").dataset.updated = String(Date.now());
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch((error) => toast(`刷新失败：${error.message}`)), 300);
}

// EventSource cannot send the token in a header, and a token must not travel in a URL (it
// would be logged), so the stream is read with fetch.
async function listen(delay = 1000) {
  const controller = new AbortController();
  state.stream = controller;
  const live = $("live");
  try {
    const response = await fetch("/v1/board/stream", {
      headers: { Authorization: `Bearer ${state.token}`, Accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (response.status === 401) return expired("令牌已过期");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    live.textContent = "● 实时";
    live.className = "live on";
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    delay = 1000;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (message.split("\n").includes("event: board")) refreshSoon();
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return;
  }
  if (!state.me) return; // logged out or expired: nothing to listen for
  live.textContent = "● 已断开，重连中";
  live.className = "live off";
  setTimeout(() => listen(Math.min(delay * 2, 30000)), delay);
}

// --- wiring --------------------------------------------------------------------------------

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  login($("token").value);
});
$("logout").addEventListener("click", logout);
function closeCase() {
  $("case").hidden = true;
  state.caseId = null;
}
$("case-close").addEventListener("click", closeCase);
// The case panel opens below the header (app.css's --header-h), whose height changes when
// its text wraps: measured, so the panel never covers 退出.
const header = document.querySelector("header");
new ResizeObserver(() =>
  document.documentElement.style.setProperty("--header-h", `${header.offsetHeight}px`),
).observe(header);
$("alert-filters").addEventListener("change", () => renderAlerts());
$("alert-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  renderAlerts();
});
document.querySelectorAll("th[data-sort]").forEach((th) =>
  th.addEventListener("click", () => {
    const key = th.dataset.sort;
    state.sort = state.sort === key ? (key.startsWith("-") ? key.slice(1) : `-${key}`) : key;
    renderAlerts();
  }),
);

if (state.token) login(state.token);
