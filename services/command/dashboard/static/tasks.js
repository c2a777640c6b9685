// 我的督办任务: the supervision tasks of the signed-in supervisor (专人), court leader,
// president or command centre, from the supervision service: overdue first (red), each
// naming its case by number and its rule in Chinese, with the time the answer is due; a
// click opens the case's panel, and the answer dialog records what was done.

import { $, caseName, instant, state, supervision, toast } from "./common.js";
import { el } from "./dom.js";

const OUTCOMES = { corrected: "已纠正", explained: "已说明情况", ordered: "已责令改正" };
const LEVELS = { 1: "专人", 2: "院领导", 3: "上级法院指挥中心" };
const STATUSES = { open: "待处理", answered: "已处理", escalated: "已升级", closed: "已办结（期限内事项已完成）" };

let context = { openCase: () => {} };

async function render(given) {
  context = given || context;
  const status = $("tasks-status").value;
  const list = $("tasks-list");
  let tasks;
  try {
    tasks = await supervision(`/v1/supervision/tasks?status=${encodeURIComponent(status)}&limit=200`);
  } catch (error) {
    list.replaceChildren(el("p", { class: "error" }, `无法读取督办任务：${error.message}`));
    return;
  }
  const overdue = tasks.filter((t) => t.overdue).length;
  $("tasks-count").textContent = `共 ${tasks.length} 项${overdue ? `，其中 ${overdue} 项已逾期` : ""}`;
  list.replaceChildren(
    tasks.length
      ? el(
          "table",
          { class: "tasks" },
          el("thead", {}, el("tr", {}, ["状态", "案件", "节点期限", "督办层级", "法院", "应答复时间", "处理"].map((h) => el("th", {}, h)))),
          el("tbody", {}, tasks.map(row)),
        )
      : el("p", { class: "muted" }, "暂无督办任务"),
  );
}

function row(task) {
  const label = task.case_id ? caseName(task.case_number) : "未关联案件";
  return el(
    "tr",
    { class: task.overdue ? "overdue" : "", dataset: { testid: "task", task: task.task_id, overdue: String(task.overdue) } },
    el("td", {}, el("span", { class: `state ${task.overdue ? "breached" : task.status === "open" ? "warned" : "running"}` },
      task.overdue ? "已逾期" : STATUSES[task.status] || task.status)),
    el("td", {}, task.case_id
      ? el("span", { class: "link", dataset: { testid: "task-case" }, onclick: () => context.openCase(task.case_id) }, label)
      : label),
    el("td", { title: task.rule_id }, task.rule_title || task.rule_id),
    el("td", {}, `第${task.level}级 · ${LEVELS[task.level] || task.assignee_role}`),
    el("td", {}, task.breached_court === task.court_code ? task.court_code : `${task.breached_court} → ${task.court_code}`),
    el("td", {}, instant(task.respond_by)),
    el("td", {}, task.status === "open"
      ? el("button", { type: "button", dataset: { testid: "task-answer" }, onclick: () => openAnswer(task, label) }, "答复")
      : task.answer ? `${OUTCOMES[task.answer.outcome] || task.answer.outcome}：${task.answer.text}` : ""),
  );
}

function openAnswer(task, label) {
  const dialog = $("answer-dialog");
  dialog.dataset.task = task.task_id;
  $("answer-case").textContent = `案件 ${label} · ${task.rule_title || task.rule_id} · 应于 ${instant(task.respond_by)} 前答复`;
  $("answer-outcome").replaceChildren(...Object.entries(OUTCOMES).map(([value, text]) => el("option", { value }, text)));
  $("answer-text").value = "";
  $("answer-error").textContent = "";
  dialog.showModal();
}

async function submitAnswer(event) {
  event.preventDefault();
  const dialog = $("answer-dialog");
  const body = { outcome: $("answer-outcome").value, text: $("answer-text").value };
  try {
    await supervision(`/v1/supervision/tasks/${encodeURIComponent(dialog.dataset.task)}/answer`, {
      method: "POST",
      body: JSON.stringify(body),
    });
  } catch (error) {
    $("answer-error").textContent = error.message;
    return;
  }
  dialog.close();
  toast(`已答复：${OUTCOMES[body.outcome]}`);
  await render();
}

$("answer-form").addEventListener("submit", submitAnswer);
$("answer-cancel").addEventListener("click", () => $("answer-dialog").close());
$("tasks-status").addEventListener("change", () => render());

export const tasksView = { render };
