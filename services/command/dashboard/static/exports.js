// Exports for overseers (检察监督, 纪检监察) and the command centre: the selected court's
// jurisdiction's cases, clocks, breaches and 终本 cases as CSV or XLSX (GET /v1/export/…).
// Every overseer's export is recorded in the audit trail.

import { download, state, toast } from "./common.js";
import { el } from "./dom.js";

const EXPORTERS = ["command", "overseer", "discipline"];
const TABLES = { cases: "执行案件", clocks: "节点期限", breaches: "超期记录", zhongben: "终本案件" };

export function exportBar() {
  if (!EXPORTERS.includes(state.me?.role)) return [];
  return [
    el("span", { class: "muted" }, "导出本院及辖区："),
    ...Object.entries(TABLES).flatMap(([table, title]) =>
      ["csv", "xlsx"].map((format) =>
        el("button", {
          type: "button",
          class: "secondary",
          dataset: { testid: `export-${table}-${format}` },
          onclick: () => exportTable(table, format),
        }, `${title} ${format.toUpperCase()}`),
      ),
    ),
  ];
}

async function exportTable(table, format) {
  const params = new URLSearchParams({ court: state.court, format });
  try {
    const name = await download(`/v1/export/${table}?${params}`, `${TABLES[table]}.${format}`);
    toast(`已导出 ${name}`);
  } catch (error) {
    toast(`导出失败：${error.message}`);
  }
}
