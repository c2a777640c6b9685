// A case's 终本 (终结本次执行) and credit punishment (限制消费、失信名单) in its panel, from the
// command centre's case view (GET /v1/cases/{id}: `zhongben`, `credit`). Debtors are named
// by name; the page shows no ID numbers.

import { caseName } from "./common.js";
import { el } from "./dom.js";

const ZHONGBEN_STATES = {
  none: "未提请终本",
  proposed: "已提请终本，待负责人审批",
  refused: "终本未获批准",
  ruled: "已裁定终结本次执行程序",
  revoked: "终本裁定已撤销",
  resumed: "已恢复执行",
};
const OBJECTION_DECISIONS = { pending: "待审查", upheld: "异议成立", rejected: "异议不成立，已驳回" };
const RESTRICTION_STATES = { ordered: "已发出", served: "已送达", lift_due: "应予解除", lifted: "已解除" };
const LISTING_STATES = { listed: "在失信名单中", ground_ended: "失信情形已消除，待删除", deleted: "已删除" };
const DECLINE_REASONS = {
  only_restriction: "仅适用限制消费措施",
  no_ground: "不存在失信情形",
  security_sufficient: "已提供充分有效的担保",
};

const line = (...parts) => el("p", {}, ...parts);
const debtor = (record) => record.debtor_name || `第${Number(record.debtor_key.slice(1)) + 1}名被执行人`;

// The 终本 section: where the case stands, the ruling and its service, objections,
// resumption (a link to the 执恢 case) and the re-query rounds after it.
export function zhongbenSection(z, openCase) {
  const rows = [line("状态：", el("b", { dataset: { testid: "zhongben-state" } }, ZHONGBEN_STATES[z.state] || z.state))];
  if (z.state === "refused" && z.unmet_rules.length) {
    rows.push(line(`未满足的终本条件 ${z.unmet_rules.length} 项（详见时间轴）`));
  }
  if (z.ruling_number || z.ruled_on) {
    rows.push(line(`终本裁定 ${z.ruling_number}（${z.ruled_on}）`, z.approved_by ? `，审批人 ${z.approved_by}` : ""));
    rows.push(line(z.served_on ? `裁定已于 ${z.served_on} 送达当事人` : "裁定尚未送达"));
  }
  for (const o of z.objections) {
    rows.push(line(`异议（${o.received_on || "收到日未记录"}）：${o.grounds || "未记录理由"} — ${OBJECTION_DECISIONS[o.decision] || o.decision}`));
  }
  if (z.revoked_reason || z.state === "revoked") rows.push(line(`终本裁定已撤销${z.revoked_reason ? `：${z.revoked_reason}` : ""}`));
  if (z.resumed_case_number || z.resumed_case_id) {
    const label = caseName(z.resumed_case_number);
    rows.push(line("已恢复执行，新案号 ",
      el("span", { class: "link", dataset: { testid: "resumed-case" }, onclick: () => openCase(z.resumed_case_id) }, label),
      z.resumed_on ? `（${z.resumed_on}）` : ""));
  }
  if (z.requeries_started || z.requeries_completed || z.requery_ended) {
    const last = z.last_requery;
    const result = last
      ? `；最近一次（第${last.requery_number}次）${last.new_assets ? `发现新财产 ${last.new_assets} 项${last.resumption_proposed ? "，建议恢复执行" : ""}` : "未发现新的可供执行财产"}`
      : "";
    rows.push(line(`终本后定期查询：已发起 ${z.requeries_started} 次，已完成 ${z.requeries_completed} 次${result}`,
      z.requery_ended ? "；定期查询期间已届满" : ""));
  }
  return rows;
}

// The credit section: every restriction and listing of the case's debtors, and every
// decision not to list.
export function creditSection(credit) {
  const rows = [
    ...credit.restrictions.map((r) => [
      "限制消费", debtor(r), r.ruling_number, r.ordered_on,
      `${RESTRICTION_STATES[r.state] || r.state}${r.served_on ? `，${r.served_on} 送达` : ""}` +
        `${r.urgent && r.state === "lift_due" ? "（紧急）" : ""}${r.lifted_on ? `，${r.lifted_on} 解除` : ""}`,
    ]),
    ...credit.listings.map((l) => [
      `失信名单${l.ground ? `（第${l.ground}项情形）` : ""}`, debtor(l), l.decision_number, l.listed_on,
      `${LISTING_STATES[l.state] || l.state}${l.extended_months ? `，延长 ${l.extended_months} 个月` : l.extension_decided_months ? `，已决定期满后延长 ${l.extension_decided_months} 个月` : ""}` +
        `${l.deleted_on ? `，${l.deleted_on} 删除` : ""}`,
    ]),
    ...credit.declined.map((d) => ["不纳入失信名单", debtor(d), DECLINE_REASONS[d.reason] || d.reason, "", d.details]),
  ];
  if (!rows.length) return [el("p", { class: "muted" }, "本案尚无限制消费、失信名单记录")];
  return [
    el("table", {},
      el("thead", {}, el("tr", {}, ...["措施", "被执行人", "文书或理由", "日期", "状态"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", { dataset: { testid: "credit-row" } }, cells.map((c) => el("td", {}, c || ""))))),
    ),
  ];
}
