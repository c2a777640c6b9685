// Command actions (统一指挥): the buttons a command centre above the basic level is offered
// (督办, 函告纠正, 裁定纠正, 提级执行, 指令执行) and the dialog that issues one.

import { $, api, state, toast } from "./common.js";
import { el } from "./dom.js";

export const ACTIONS = {
  urge: "督办",
  correction_letter: "函告纠正",
  correction_ruling: "裁定纠正",
  elevate: "提级执行",
  designate: "指令执行",
};

export function commandButton(action, caseId, caseLabel, about = "") {
  if (!state.me?.may_command || !caseId) return "";
  return el(
    "button",
    { type: "button", dataset: { action, testid: `command-${action}` }, onclick: () => openCommand(action, caseId, caseLabel, about) },
    ACTIONS[action],
  );
}

function openCommand(action, caseId, caseLabel, about) {
  const dialog = $("command-dialog");
  dialog.dataset.action = action;
  dialog.dataset.caseId = caseId;
  $("command-title").textContent = ACTIONS[action];
  $("command-case").textContent = `案件 ${caseLabel}`;
  $("command-instruction").value = about ? `${about}已预警或超期，请依法加快办理并报告。` : "";
  const limit = state.me.reply_limits[action];
  $("command-days-label").hidden = !limit;
  $("command-days").max = limit || "";
  $("command-days").value = limit ? Math.min(3, limit) : "";
  $("command-court-label").hidden = action !== "designate";
  if (action === "designate") {
    const courts = [];
    (function walk(c) {
      if (c.level === "基层") courts.push(c);
      c.children.forEach(walk);
    })(state.tree);
    $("command-court").replaceChildren(...courts.map((c) => el("option", { value: c.code }, `${c.name}（${c.code}）`)));
  }
  $("command-error").textContent = "";
  dialog.showModal();
}

async function submitCommand(event) {
  event.preventDefault();
  const dialog = $("command-dialog");
  const action = dialog.dataset.action;
  const body = { action, case_id: dialog.dataset.caseId, instruction: $("command-instruction").value };
  if (state.me.reply_limits[action]) body.reply_working_days = Number($("command-days").value);
  if (action === "designate") body.to_court = $("command-court").value;
  try {
    const record = await api("/v1/commands", { method: "POST", body: JSON.stringify(body) });
    dialog.close();
    toast(`已下达${ACTIONS[action]}（${record.target_court}）`);
  } catch (error) {
    $("command-error").textContent = error.message;
  }
}

$("command-form").addEventListener("submit", submitCommand);
$("command-cancel").addEventListener("click", () => $("command-dialog").close());
