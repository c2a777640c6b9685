// What every view of the page shares: the signed-in user, the API calls with their token,
// the toast, and how times and sums are written. Text from the server is only ever set as
// text (never as HTML).

export const TOKEN_KEY = "zhixing.token";

export const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  me: null,
  court: null, // the selected court's code
  node: null, // the selected node
  caseId: null, // the open case panel
  sort: "due_at",
  nodes: [],
  tree: null,
  stream: null,
  view: "board", // board, tasks or register
};

// Every role, in Chinese (zhixing.auth.Role).
export const ROLE_NAMES = {
  clerk: "立案人员", officer: "执行员", command: "指挥中心", leader: "院领导", president: "院长",
  supervisor: "专人监管", finance: "财务", coordinator: "争议协调人", overseer: "检察监督",
  discipline: "纪检监察", agency: "协助执行单位", service: "平台服务",
};

export const $ = (id) => document.getElementById(id);

// ``message``: in Chinese, for people; ``detail``: the API's own text.
export class ApiError extends Error {
  constructor(status, detail) {
    super(chinese(status, detail));
    this.status = status;
    this.detail = detail;
  }
}

// How a page names a case: its number; an application not yet docketed by its receipt
// number (the API's case_number or label gives （2026）苏1283收1号（待立案）); never by its id.
export const caseName = (number) => number || "待立案申请";

// The API's error texts are English (for programs and logs); people read them in Chinese.
// Known texts (the authentication errors of libs/zhixing/auth.py, scope refusals, and the
// like) are said in Chinese; any other is said by its status, the English kept in the console.
const KNOWN_ERRORS = [
  [/^token signature is invalid/, () => "令牌签名无效（令牌不是本平台签发的，或已被篡改）"],
  [/^token expired at (.+)$/, (m) => `令牌已于 ${instant(m[1])} 过期`],
  [/^token issued in the future/, () => "令牌的签发时间晚于服务器时间"],
  [/^token times/, () => "令牌的时间字段无效"],
  [/^token claims are invalid/, () => "令牌内容无效（法院或角色有误）"],
  [/^token is invalid/, () => "令牌格式无效"],
  [/^missing bearer token/, () => "未提供访问令牌"],
  [/^an agency sees only/, () => "协助执行单位只能查看其参与的争议"],
  [/^role '?(\w+)'? is read-only/, (m) => `${ROLE_NAMES[m[1]] || m[1]}为只读角色，不能进行此操作`],
  [/^role '?(\w+)'? may not do this/, (m) => `${ROLE_NAMES[m[1]] || m[1]}无权进行此操作`],
  [/^court (\S+) has no jurisdiction over court (\S+)/, (m) => `${m[1]}对${m[2]}没有管辖权`],
  [/^no (.+) in your jurisdiction/, () => "在您的辖区内未找到"],
  [/is an application not yet docketed/, () => "该申请尚未立案，只能督办其立案"],
  [/command actions go to lower courts/, () => "指挥事项只能下达给下级法院"],
];
const STATUS_TEXT = {
  400: "请求有误", 401: "身份验证失败", 403: "无权进行此操作", 404: "未找到", 409: "与当前状态冲突",
  422: "填写的内容不符合要求", 429: "请求过于频繁，请稍后再试", 500: "服务器内部错误", 503: "服务暂不可用",
};

export function chinese(status, text) {
  for (const [pattern, say] of KNOWN_ERRORS) {
    const m = pattern.exec(text);
    if (m) return say(m);
  }
  if (/[\u4e00-\u9fff]/.test(text)) return text; // already Chinese
  console.warn("API error", status, text);
  return STATUS_TEXT[status] || `请求失败（HTTP ${status}）`;
}

export function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("；");
  return JSON.stringify(detail);
}

// Called when the token is refused (401) while signed in; the page sets it.
export const hooks = { expired: () => {} };

function authorised(options) {
  return { ...options, headers: { Authorization: `Bearer ${state.token}`, "Content-Type": "application/json", ...(options.headers || {}) } };
}

async function answer(response) {
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (response.status === 401 && state.me) hooks.expired(chinese(401, describe(body?.detail ?? "")));
  if (!response.ok) throw new ApiError(response.status, describe(body?.detail ?? response.statusText));
  return body;
}

// The command service (this page's origin).
export async function api(path, options = {}) {
  return answer(await fetch(path, authorised(options)));
}

// The supervision service (its base URL comes with /v1/me), called from the browser.
export async function supervision(path, options = {}) {
  let response;
  try {
    response = await fetch(`${state.me.supervision_url}${path}`, authorised(options));
  } catch (error) {
    throw new ApiError(503, `监督服务无法连接（${error.message}）`);
  }
  return answer(response);
}

// One page of a supervision listing: its items and the cursor of the next page (null at the
// end), which the service gives in the X-Next-Cursor header.
export async function supervisionPage(path, options = {}) {
  let response;
  try {
    response = await fetch(`${state.me.supervision_url}${path}`, authorised(options));
  } catch (error) {
    throw new ApiError(503, `监督服务无法连接（${error.message}）`);
  }
  const next = response.headers.get("x-next-cursor");
  return { items: await answer(response), next };
}

// A file from ``url`` (the token in its header), saved under the name the server gives.
export async function download(url, fallbackName) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) {
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
    throw new ApiError(response.status, describe(body?.detail ?? response.statusText));
  }
  const disposition = response.headers.get("content-disposition") || "";
  const named = /filename\*=UTF-8''([^;]+)/.exec(disposition);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = named ? decodeURIComponent(named[1]) : fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  return link.download;
}

export function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 4000);
}

// Courts keep China's time, wherever the browser is.
export const time = (ms) => (ms ? new Date(ms).toLocaleString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" }) : "");
// An RFC 3339 instant, in China's time.
export const instant = (text) => (text ? time(Date.parse(text)) : "");
// A limit counted in days ends with its last day (末日); one counted in hours, at an instant.
export const due = (lastDay, ms) => (lastDay ? `${lastDay}（末日）` : time(ms));
