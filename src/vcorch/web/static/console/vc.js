// vc.js: what every console page shares (an ES module, no build step, no third-party code).
//
//   import { startPage, api, el } from "/static/console/vc.js";
//   startPage({ page: "calendar", title: "Lịch họp", render: async (user, root) => { ... } });
//
// Sign-in (OAuth2 password grant, the token in sessionStorage under one key for every page),
// API calls that throw a `Problem` worded in Vietnamese, who the user is (`me()`), Vietnamese
// dates and numbers in the unit's zone, the shared header and navigation, a status and toast
// area, DOM helpers that insert text only (textContent, never HTML) and focus helpers.
// The pages' Content-Security-Policy runs no inline script or style: everything is here.

export const TOKEN_KEY = "vcorch.console.token";
export const DEFAULT_ZONE = "Asia/Ho_Chi_Minh";

const ADMIN = "admin";
const SECRETARIAT = "secretariat";
const OPERATOR = "operator";
const LEADERSHIP = "leadership";
export const STAFF = [ADMIN, SECRETARIAT, OPERATOR, LEADERSHIP];
export const BOOKERS = [ADMIN, SECRETARIAT];

// Every console page, in navigation order; `roles` are those who may use it (the API decides
// in the end: this only keeps the menu honest).  Pages with an id in the path
// (/meetings/{id}/edit, /meetings/{id}/live, /meetings/{id}/attendance) are reached from a
// meeting, not from the menu.  Add entries; do not rename ids or paths.
export const PAGES = [
  { id: "home", href: "/", label: "Trang chủ", roles: STAFF },
  { id: "calendar", href: "/calendar", label: "Lịch họp", roles: STAFF },
  { id: "booking", href: "/meetings/new", label: "Đặt lịch họp", roles: BOOKERS },
  { id: "site-groups", href: "/site-groups", label: "Nhóm điểm cầu", roles: BOOKERS },
  { id: "site-requests", href: "/site-requests", label: "Yêu cầu điểm cầu", roles: BOOKERS },
  { id: "board", href: "/board", label: "Thiết bị", roles: STAFF },
  { id: "dashboard", href: "/dashboard", label: "Tỷ lệ trực tuyến", roles: [ADMIN, LEADERSHIP] },
  { id: "api-docs", href: "/api/docs", label: "Tài liệu API", roles: STAFF },
];

export const meetingLinks = {
  edit: (id) => "/meetings/" + encodeURIComponent(id) + "/edit",
  live: (id) => "/meetings/" + encodeURIComponent(id) + "/live",
  attendance: (id) => "/meetings/" + encodeURIComponent(id) + "/attendance",
  copy: (id) => "/meetings/new?copy=" + encodeURIComponent(id),
  ics: (id) => "/api/meetings/" + encodeURIComponent(id) + ".ics",
};

// -- words ---------------------------------------------------------------------------------

export const ROLE_LABELS = {
  admin: "Quản trị", secretariat: "Văn thư – thư ký", operator: "Kỹ thuật viên phòng họp",
  leadership: "Lãnh đạo", integration: "Hệ thống tích hợp",
};
export const KIND_LABELS = {
  meeting: "Cuộc họp", conference: "Hội nghị", workshop: "Hội thảo", training: "Tập huấn",
};
export const MODE_LABELS = { in_person: "Trực tiếp", online: "Trực tuyến", hybrid: "Kết hợp" };
export const STATUS_LABELS = {
  draft: "Bản nháp", scheduled: "Đã lên lịch", live: "Đang diễn ra", ended: "Đã kết thúc",
  cancelled: "Đã hủy", missed: "Bị lỡ", failed: "Không chạy được",
};
export const SITE_STATE_LABELS = {
  pending: "Chờ gọi", dialling: "Đang gọi", connected: "Đã kết nối", failed: "Gọi không được",
  fallback: "Dự phòng qua trình duyệt", disconnected: "Đã ngắt",
};
export const CHANNEL_LABELS = {
  room_system: "Thiết bị phòng họp", browser: "Trình duyệt (WebRTC)",
  gateway: "Trình duyệt qua cổng SIP", dial_in: "Gọi vào (thiết bị tự quay số)",
};
export const HEALTH_LABELS = { up: "Hoạt động", down: "Mất kết nối", unknown: "Chưa rõ" };
export const APPROVAL_LABELS = { accepted: "Đã chấp nhận", pending: "Chờ duyệt", declined: "Bị từ chối" };

export function label(table, value) {
  return Object.prototype.hasOwnProperty.call(table, value) ? table[value] : String(value ?? "");
}

// -- problems ------------------------------------------------------------------------------

// The service's problem types (urn:vcorch:problem:<slug>, docs/errors.md) in Vietnamese.
const PROBLEM_TITLES = {
  "not-found": "Không tìm thấy.",
  "domain-error": "Yêu cầu bị từ chối.",
  "invalid-input": "Dữ liệu chưa hợp lệ.",
  "validation-error": "Dữ liệu chưa hợp lệ.",
  conflict: "Xung đột với dữ liệu hiện có.",
  "still-referenced": "Không xóa được: còn dữ liệu khác tham chiếu tới.",
  forbidden: "Bạn không có quyền làm việc này.",
  "auth-error": "Yêu cầu bị từ chối.",
  "invalid-grant": "Tên đăng nhập hoặc mật khẩu không đúng.",
  "invalid-token": "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.",
  "too-many-attempts": "Thử sai quá nhiều lần, vui lòng thử lại sau.",
  "unit-tree": "Thay đổi này làm hỏng cây đơn vị.",
  "duplicate-code": "Mã này đã được dùng.",
  "booking-conflict": "Trùng lịch: phòng, thiết bị hoặc cổng cầu truyền hình đã bận.",
  "meeting-closed": "Cuộc họp không còn sửa được nữa.",
  "site-not-requested": "Điểm cầu này không phải là một yêu cầu.",
  "stale-version": "Cuộc họp vừa được người khác thay đổi; hãy tải lại trước khi lưu.",
  "precondition-required": "Thiếu phiên bản của cuộc họp (If-Match).",
  "link-expired": "Đường dẫn đã hết hạn.",
  "link-invalid": "Đường dẫn không hợp lệ.",
  "meeting-not-live": "Cuộc họp chưa diễn ra hoặc đã kết thúc.",
  "join-elsewhere": "Hãy tham gia trên cầu truyền hình đang chủ trì.",
  "bridge-full": "Cầu truyền hình qua trình duyệt đã đầy.",
  "gateway-unavailable": "Cổng SIP không gọi được.",
  "builtin-bridge-missing": "Cầu truyền hình qua trình duyệt chưa chạy.",
  "invalid-offer": "Trình duyệt gửi thông tin kết nối không dùng được.",
  "checkin-link-expired": "Đường dẫn điểm danh đã hết hạn.",
  "checkin-link-invalid": "Đường dẫn điểm danh không hợp lệ.",
  "bridge-error": "Cầu truyền hình báo lỗi.",
  "bridge-unavailable": "Cầu truyền hình không kết nối được.",
  "bridge-protocol-error": "Cầu truyền hình trả lời không đúng định dạng.",
  "bridge-busy": "Cầu truyền hình đang bận, vui lòng thử lại sau.",
  "bridge-listing-unreliable": "Danh sách trên cầu truyền hình đang thay đổi, vui lòng thử lại.",
  "dial-failed": "Không gọi được điểm cầu.",
  "bridge-capacity-exceeded": "Cầu truyền hình hết cổng trống.",
  "not-supported": "Cầu truyền hình không hỗ trợ việc này.",
  "conference-not-on-bridge": "Phiên họp không còn trên cầu truyền hình.",
  "malformed-body": "Dữ liệu gửi lên không đọc được.",
  "unsupported-media-type": "Định dạng dữ liệu không được hỗ trợ.",
  "bad-request": "Yêu cầu không hợp lệ.",
  "method-not-allowed": "Thao tác không được phép.",
  "payload-too-large": "Dữ liệu gửi lên quá lớn.",
  "database-unavailable": "Máy chủ tạm thời không sẵn sàng, vui lòng thử lại sau.",
  "internal-error": "Máy chủ gặp lỗi.",
};
const STATUS_TITLES = {
  0: "Không kết nối được tới máy chủ.",
  400: "Yêu cầu không hợp lệ.", 401: "Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.",
  403: "Bạn không có quyền làm việc này.", 404: "Không tìm thấy.",
  409: "Xung đột với dữ liệu hiện có.", 412: PROBLEM_TITLES["stale-version"],
  422: "Dữ liệu chưa hợp lệ.", 429: "Thử lại quá nhiều lần, vui lòng thử lại sau.",
  500: "Máy chủ gặp lỗi.", 502: "Hệ thống phía sau báo lỗi.",
  503: "Máy chủ tạm thời không sẵn sàng, vui lòng thử lại sau.",
};
// Field messages the validator writes most often (pydantic's English).
const FIELD_MESSAGES = [
  [/^field required$/i, "bắt buộc phải có"],
  [/^missing$/i, "bắt buộc phải có"],
  [/^extra inputs are not permitted$/i, "không được nhận"],
  [/should be a valid integer/i, "phải là số nguyên"],
  [/should be a valid datetime|input should have timezone info/i, "phải là thời điểm có múi giờ"],
  [/should be a valid date/i, "phải là ngày hợp lệ"],
  [/should be greater than or equal to (\S+)/i, "phải từ $1 trở lên"],
  [/should be less than or equal to (\S+)/i, "phải không quá $1"],
  [/should have at most (\d+) characters?/i, "tối đa $1 ký tự"],
  [/should have at least (\d+) characters?/i, "tối thiểu $1 ký tự"],
  [/^input should be (.+)$/i, "phải là $1"],
];

export function fieldMessage(message) {
  const text = String(message || "");
  for (const [pattern, vietnamese] of FIELD_MESSAGES) {
    const found = text.match(pattern);
    if (found) return vietnamese.replace(/\$(\d)/g, (_, i) => found[Number(i)] || "");
  }
  return text;
}

/** An answer other than 2xx: the problem+json fields, with a Vietnamese `message`. */
export class Problem extends Error {
  constructor({ status = 0, type = "", title = "", detail = "", errors = [], body = null } = {}) {
    const slug = String(type || "").replace(/^urn:vcorch:problem:/, "");
    const vietnamese = PROBLEM_TITLES[slug] || STATUS_TITLES[status] ||
      (status >= 500 ? STATUS_TITLES[500] : STATUS_TITLES[400]);
    super(vietnamese);
    this.name = "Problem";
    this.status = status;
    this.type = type;
    this.slug = slug;
    this.title = vietnamese;          // shown to people
    this.serverTitle = title;         // the service's own words (English), for the record
    this.detail = detail || "";
    this.errors = Array.isArray(errors)
      ? errors.map((e) => ({ field: e.field || "", message: fieldMessage(e.message), original: e.message }))
      : [];
    this.body = body;
  }

  /** One line for a toast: the Vietnamese title, then each field at fault. */
  get summary() {
    const fields = this.errors.map((e) => (e.field ? e.field + ": " : "") + e.message);
    return [this.title, ...fields].join(" ");
  }
}

// What a probe found (monitoring's words, English) in Vietnamese, for the board and home.
const PROBE_DETAILS = [
  [/^refused$/i, "thiết bị từ chối kết nối"],
  [/^janus: refused$/i, "Janus từ chối kết nối"],
  [/^timeout after ([\d.]+) s \(name resolution\)$/i, "không phân giải được tên sau $1 giây"],
  [/^timeout after ([\d.]+) s during (.+)$/i, "không trả lời sau $1 giây (bước $2)"],
  [/^timeout after ([\d.]+) s$/i, "không trả lời sau $1 giây"],
  [/^dns: (.+?): (name or service not known|no address associated with hostname|nodename nor servname provided.*)$/i, "không tìm thấy tên máy $1 (DNS)"],
  [/^dns: (.+?): (temporary failure in name resolution|.*timed out.*)$/i, "máy chủ tên miền chưa trả lời cho $1 (DNS)"],
  [/^dns: (\S+) did not resolve within ([\d.]+) s$/i, "không phân giải được tên máy $1 sau $2 giây (DNS)"],
  [/^dns: (\S+): no address$/i, "tên máy $1 không có địa chỉ (DNS)"],
  [/^dns: (.+)$/i, "lỗi phân giải tên (DNS): $1"],
  [/^probing switched off$/i, "đã tắt theo dõi"],
  [/^not probed$/i, "chưa được kiểm tra"],
  [/^prober closed$/i, "bộ kiểm tra đã dừng"],
  [/^answered, but not with a SIP response$/i, "có trả lời nhưng không phải SIP"],
  [/^connection closed before a final response$/i, "kết nối bị đóng trước khi có trả lời"],
  [/^response head too long$/i, "phần đầu câu trả lời quá dài"],
  [/^media: ICE\/DTLS failed$/i, "không thiết lập được đường truyền âm thanh, hình ảnh (ICE/DTLS)"],
  [/^simulated network: does not answer/i, "mạng mô phỏng: thiết bị không trả lời"],
  [/^send failed: (.+)$/i, "không gửi được: $1"],
  [/^connect failed: (.+)$/i, "không kết nối được: $1"],
  [/^tls: (.+)$/i, "lỗi TLS: $1"],
  [/^http error: (.+)$/i, "lỗi HTTP: $1"],
  [/^janus: (.+)$/i, "Janus: $1"],
  [/^(\d{3})(?: (.*))?$/, "thiết bị trả lời mã $1"],
];

/** A probe's detail in Vietnamese ("refused" → "thiết bị từ chối kết nối"); unknown ones are
 * kept after "lỗi kỹ thuật:". */
export function describeProbe(detail) {
  const text = String(detail || "").trim();
  if (!text) return "";
  for (const [pattern, vietnamese] of PROBE_DETAILS) {
    const found = text.match(pattern);
    if (found) return vietnamese.replace(/\$(\d)/g, (_, i) => found[Number(i)] || "");
  }
  return "lỗi kỹ thuật: " + text;
}

// -- sign-in and the API -------------------------------------------------------------------

export function token() { return window.sessionStorage.getItem(TOKEN_KEY); }
function storeToken(value) { window.sessionStorage.setItem(TOKEN_KEY, value); }
function dropToken() { window.sessionStorage.removeItem(TOKEN_KEY); }

const signOutHooks = new Set();
const timers = new Set();
let expiredHandler = null;

/** Run `fn` every `ms` (first after `ms`) until sign-out; returns a function that stops it. */
export function every(ms, fn) {
  let handle = null;
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (err) { report(err); }
    if (!stopped) handle = window.setTimeout(tick, ms);
  };
  handle = window.setTimeout(tick, ms);
  const stop = () => { stopped = true; if (handle !== null) window.clearTimeout(handle); timers.delete(stop); };
  timers.add(stop);
  return stop;
}

/** Called (once per sign-out) when the user signs out or the session expires. */
export function onSignOut(fn) { signOutHooks.add(fn); return () => signOutHooks.delete(fn); }

function stopEverything() {
  for (const stop of [...timers]) stop();
  for (const hook of [...signOutHooks]) { try { hook(); } catch (err) { /* keep going */ } }
}

async function readBody(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { return await response.json(); } catch (err) { return null; }
  }
  return await response.text();
}

/**
 * Call the API with the session's token.  `body`: an object (sent as JSON), URLSearchParams
 * (form) or a string; `query`: an object of query parameters (empty values left out);
 * `accept`: the Accept header; `raw: true` answers the Response itself (blobs, ETags).
 * Answers the parsed JSON (null for 204), or throws a `Problem`.  A 401 asks to sign in again.
 */
export async function api(path, options = {}) {
  const { method = "GET", body, headers = {}, query, accept = "application/json", raw = false } = options;
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const sent = { Accept: accept, ...headers };
  const current = token();
  if (current && !("Authorization" in sent)) sent.Authorization = "Bearer " + current;
  let payload = body;
  if (body !== undefined && body !== null && !(body instanceof URLSearchParams) &&
      typeof body !== "string" && !(body instanceof Blob) && !(body instanceof FormData)) {
    payload = JSON.stringify(body);
    if (!("Content-Type" in sent)) sent["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, { method, headers: sent, body: payload });
  } catch (err) {
    throw new Problem({ status: 0 });
  }
  if (!response.ok) {
    const problem = await readBody(response);
    const fields = problem && typeof problem === "object" ? problem : {};
    const error = new Problem({ ...fields, status: response.status, body: problem });
    error.headers = response.headers;
    if (response.status === 401 && current) sessionExpired();
    throw error;
  }
  if (raw) return response;
  return readBody(response);
}

/** Every item of a paged list (`{items, next}`), at most `maxPages` pages of `limit`. */
export async function apiAll(path, query = {}, { limit = 500, maxPages = 20 } = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const body = await api(path, { query: { ...query, limit, cursor } });
    items.push(...(body.items || []));
    cursor = body.next;
    if (!cursor) return items;
  }
  return items;
}

async function requestToken(username, password) {
  let response;
  try {
    response = await fetch("/api/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams({ grant_type: "password", username, password }),
    });
  } catch (err) {
    throw new Problem({ status: 0 });
  }
  const body = await readBody(response);
  if (!response.ok) {
    const fields = body && typeof body === "object" ? body : {};
    // A wrong name and a wrong password are one answer: do not say which.
    if (response.status === 429) throw new Problem({ ...fields, status: 429, type: "too-many-attempts" });
    throw new Problem({ ...fields, status: response.status, type: "invalid-grant" });
  }
  return body.access_token;
}

let meCache = null;

/**
 * The signed-in user: `{kind, id, name, role, unit_id, unit: {id, code, name, level,
 * timezone, parent_id} | null, zone}` (GET /api/auth/me, then /api/units/{unit_id}).
 */
export async function me({ fresh = false } = {}) {
  if (meCache && !fresh) return meCache;
  const who = await api("/api/auth/me");
  let unit = null;
  try { unit = await api("/api/units/" + encodeURIComponent(who.unit_id)); } catch (err) {
    if (err instanceof Problem && err.status === 401) throw err;
  }
  meCache = { ...who, unit, zone: (unit && unit.timezone) || DEFAULT_ZONE };
  return meCache;
}

/** May `user` use page `id` (of PAGES)? */
export function mayUse(user, id) {
  const page = PAGES.find((p) => p.id === id);
  return Boolean(page && user && page.roles.includes(user.role));
}

/** Revoke the token and show the sign-in form. */
export async function signOut(message) {
  const current = token();
  dropToken();
  meCache = null;
  stopEverything();
  if (current) {
    try {
      await fetch("/api/auth/revoke", { method: "POST", headers: { Authorization: "Bearer " + current } });
    } catch (err) { /* the token expires anyway */ }
  }
  if (expiredHandler) expiredHandler(message || "Bạn đã đăng xuất.");
}

function sessionExpired() {
  dropToken();
  meCache = null;
  stopEverything();
  if (expiredHandler) expiredHandler(PROBLEM_TITLES["invalid-token"]);
}

// -- time, dates and numbers ---------------------------------------------------------------

const WEEKDAYS = ["Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"];
export const WEEKDAY_SHORT = ["CN", "T2", "T3", "T4", "T5", "T6", "T7"];
const partFormats = new Map();

function partsFormat(zone) {
  if (!partFormats.has(zone)) {
    partFormats.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }));
  }
  return partFormats.get(zone);
}

function asDate(value) { return value instanceof Date ? value : new Date(value); }
const pad = (n) => String(n).padStart(2, "0");

/** The wall clock of `value` in `zone`: {year, month (1-12), day, hour, minute, second, weekday (0 = Sunday)}. */
export function zoned(value, zone = DEFAULT_ZONE) {
  const out = {};
  for (const part of partsFormat(zone).formatToParts(asDate(value))) {
    if (part.type !== "literal") out[part.type] = Number(part.value);
  }
  if (out.hour === 24) out.hour = 0;
  out.weekday = new Date(Date.UTC(out.year, out.month - 1, out.day)).getUTCDay();
  return out;
}

/** The instant at wall-clock `year-month-day hour:minute` in `zone` (a Date). */
export function fromZoned(year, month, day, hour = 0, minute = 0, zone = DEFAULT_ZONE) {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wall;
  for (let i = 0; i < 3; i += 1) {
    const p = zoned(new Date(guess), zone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    const next = guess + (wall - seen);
    if (next === guess) break;
    guess = next;
  }
  return new Date(guess);
}

/** "2026-12-07": the day of `value` in `zone`, for grouping and <input type=date>. */
export function dayKey(value, zone = DEFAULT_ZONE) {
  const p = zoned(value, zone);
  return p.year + "-" + pad(p.month) + "-" + pad(p.day);
}

/** The instant a day key ("2026-12-07") starts in `zone`, `days` later. */
export function dayStart(key, zone = DEFAULT_ZONE, days = 0) {
  const [y, m, d] = key.split("-").map(Number);
  const shifted = new Date(Date.UTC(y, m - 1, d + days));
  return fromZoned(shifted.getUTCFullYear(), shifted.getUTCMonth() + 1, shifted.getUTCDate(), 0, 0, zone);
}

/** "Thứ Hai, 07/12/2026". */
export function formatDate(value, zone = DEFAULT_ZONE) {
  const p = zoned(value, zone);
  return WEEKDAYS[p.weekday] + ", " + pad(p.day) + "/" + pad(p.month) + "/" + p.year;
}

/** "07/12/2026". */
export function formatShortDate(value, zone = DEFAULT_ZONE) {
  const p = zoned(value, zone);
  return pad(p.day) + "/" + pad(p.month) + "/" + p.year;
}

/** "14:05" (24 h). */
export function formatTime(value, zone = DEFAULT_ZONE, { seconds = false } = {}) {
  const p = zoned(value, zone);
  return pad(p.hour) + ":" + pad(p.minute) + (seconds ? ":" + pad(p.second) : "");
}

/** "14:05 Thứ Hai, 07/12/2026". */
export function formatDateTime(value, zone = DEFAULT_ZONE) {
  return formatTime(value, zone) + " " + formatDate(value, zone);
}

/** "14:05–15:30" on one day, else both ends with their dates. */
export function formatRange(start, end, zone = DEFAULT_ZONE) {
  if (dayKey(start, zone) === dayKey(end, zone)) return formatTime(start, zone) + "–" + formatTime(end, zone);
  return formatDateTime(start, zone) + " – " + formatDateTime(end, zone);
}

/** "1 giờ 30 phút", "45 phút", "20 giây" (from seconds). */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const parts = [];
  if (days) parts.push(days + " ngày");
  if (hours) parts.push(hours + " giờ");
  if (minutes) parts.push(minutes + " phút");
  if (!parts.length) parts.push(total + " giây");
  return parts.join(" ");
}

const numberFormat = new Intl.NumberFormat("vi-VN");
/** "1.234" (vi-VN groups with dots). */
export function formatNumber(value, options) {
  return options ? new Intl.NumberFormat("vi-VN", options).format(value) : numberFormat.format(value);
}

/** "30,5 %" from 0.305. */
export function formatPercent(ratio, digits = 1) {
  return new Intl.NumberFormat("vi-VN", { maximumFractionDigits: digits }).format(ratio * 100) + " %";
}

/** The RFC 3339 text of a Date, UTC (what the API takes). */
export function iso(value) { return asDate(value).toISOString(); }

// -- DOM: text only ------------------------------------------------------------------------

/** document.getElementById / querySelector. */
export const $ = (selector, root = document) =>
  selector.startsWith("#") && root === document ? document.getElementById(selector.slice(1)) : root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/**
 * el("a", {href: "/", className: "x", dataset: {id: 1}, on: {click: fn}}, "text", child...)
 * Strings become text nodes; attributes are set as attributes (never innerHTML).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "className") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else if (key === "hidden" || key === "disabled" || key === "checked" || key === "selected" ||
             key === "required" || key === "multiple") node[key] = Boolean(value);
    else if (key === "value") node.value = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

/** Append children: strings and numbers as text nodes, nodes as they are, arrays flattened. */
export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace a node's children (text or nodes). */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, ...children);
}

export function setText(node, text) { node.textContent = text ?? ""; return node; }

// -- status, toasts, focus -----------------------------------------------------------------

/** The line under the header: "Cập nhật lúc 14:05:03" and the like (role=status). */
export function status(text) {
  const line = document.getElementById("vc-status");
  if (line) line.textContent = text || "";
}

/** A message that stays a few seconds; kind "error" is announced at once (role=alert). */
export function toast(text, kind = "info", { timeout = 6000 } = {}) {
  const area = document.getElementById(kind === "error" ? "vc-alerts" : "vc-toasts");
  if (!area) return null;
  const item = el("div", { className: "toast toast-" + kind, dataset: { kind } });
  const words = el("span", { className: "toast-text" }, text);
  const close = el("button", { type: "button", className: "toast-close", "aria-label": "Đóng thông báo" }, "×");
  close.addEventListener("click", () => item.remove());
  append(item, words, close);
  area.appendChild(item);
  if (timeout > 0) window.setTimeout(() => item.remove(), kind === "error" ? timeout * 2 : timeout);
  return item;
}

/** Show an error the way every page does: a Problem's Vietnamese summary, 401 left to sign-in. */
export function report(err, context) {
  if (err instanceof Problem) {
    if (err.status === 401) return;
    toast((context ? context + ": " : "") + err.summary, "error");
  } else {
    console.error(err);
    toast((context ? context + ": " : "") + "Đã có lỗi trên trang.", "error");
  }
}

/** Move keyboard focus to `node` (made focusable if it is not), e.g. a heading after a view change. */
export function focus(node) {
  if (!node) return;
  if (!node.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(node.tagName)) {
    node.setAttribute("tabindex", "-1");
  }
  node.focus({ preventScroll: false });
}

/** Focus the first field or button inside `root`. */
export function focusFirst(root) {
  const target = root && root.querySelector("input:not([type=hidden]):not([disabled]), select, textarea, button:not([disabled]), a[href]");
  if (target) target.focus();
}

/** Escape closes: call `fn` when Escape is pressed inside `root` (dialogs, menus). */
export function onEscape(root, fn) {
  root.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); fn(event); } });
}

/** A confirmation with a real <dialog> (keyboard: Enter confirms, Escape cancels). Resolves true/false. */
export function confirmDialog(question, { confirm = "Đồng ý", cancel = "Hủy" } = {}) {
  return new Promise((resolve) => {
    const previous = document.activeElement;
    const yes = el("button", { type: "button", className: "primary", value: "yes" }, confirm);
    const no = el("button", { type: "button", className: "secondary", value: "no" }, cancel);
    const dialog = el("dialog", { className: "vc-dialog", "aria-labelledby": "vc-dialog-q" },
      el("p", { id: "vc-dialog-q" }, question), el("div", { className: "actions" }, no, yes));
    const finish = (answer) => { dialog.close(); dialog.remove(); if (previous) previous.focus(); resolve(answer); };
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); });
    document.body.appendChild(dialog);
    dialog.showModal();
    yes.focus();
  });
}

// -- the page frame ------------------------------------------------------------------------

function buildHeader(pageId, user) {
  const header = document.getElementById("vc-header");
  if (!header) return;
  const brand = el("a", { className: "brand", href: "/" }, "vcorch");
  const toggle = el("button", {
    type: "button", className: "nav-toggle", "aria-expanded": "false", "aria-controls": "vc-nav",
  }, "Trình đơn");
  const list = el("ul");
  for (const page of PAGES) {
    if (!user || !page.roles.includes(user.role)) continue;
    const link = el("a", { href: page.href, dataset: { page: page.id } }, page.label);
    if (page.id === pageId) link.setAttribute("aria-current", "page");
    list.appendChild(el("li", {}, link));
  }
  const nav = el("nav", { id: "vc-nav", className: "nav", "aria-label": "Các trang" }, list);
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
    if (open) focusFirst(nav);
  });
  onEscape(nav, () => { toggle.setAttribute("aria-expanded", "false"); nav.classList.remove("open"); toggle.focus(); });
  const who = el("div", { className: "who" });
  if (user) {
    const unitName = user.unit ? user.unit.name : "";
    append(who,
      el("span", { className: "who-name", id: "vc-user" }, user.name),
      el("span", { className: "who-role" }, label(ROLE_LABELS, user.role) + (unitName ? " · " + unitName : "")),
      el("button", { type: "button", id: "vc-logout", className: "secondary small", on: { click: () => signOut() } }, "Đăng xuất"));
  }
  replace(header, el("div", { className: "bar" }, brand, user ? toggle : null, user ? nav : null, who));
}

function signInForm(message) {
  const error = el("p", { id: "vc-signin-error", className: "error", role: "alert" }, message || "");
  const form = el("form", { id: "vc-signin", className: "signin card", "aria-labelledby": "vc-signin-title", novalidate: true },
    el("h1", { id: "vc-signin-title" }, "Đăng nhập"),
    el("p", { className: "hint" }, "Dùng tài khoản vcorch của đơn vị bạn. Phiên đăng nhập giữ trong thẻ trình duyệt này; đóng thẻ là đăng xuất."),
    el("label", { for: "vc-username" }, "Tên đăng nhập"),
    el("input", { id: "vc-username", name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true }),
    el("label", { for: "vc-password" }, "Mật khẩu"),
    el("input", { id: "vc-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    el("button", { type: "submit", className: "primary" }, "Đăng nhập"),
    error);
  return form;
}

/**
 * Start a console page.  `page`: its id in PAGES; `title`: its heading (also the document
 * title); `render(user, root)`: draws the page into `root` (the element #vc-page, emptied
 * unless `keep` is true — pages whose HTML already holds their markup pass keep: true), called
 * again after each sign-in.  Signs in first when needed.  Sets body[data-view] to "signin" or
 * "page" and body[data-ready] once render resolved (tests wait for it).
 */
export async function startPage({ page, title, render, keep = false }) {
  if (document.readyState === "loading") {
    await new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve, { once: true }));
  }
  if (title) document.title = title + " — vcorch";
  const main = document.getElementById("main");
  let root = document.getElementById("vc-page");
  if (!root) { root = el("div", { id: "vc-page" }); main.appendChild(root); }
  let signin = null;

  const show = async () => {
    delete document.body.dataset.ready;
    if (signin) { signin.remove(); signin = null; }
    let user;
    try {
      user = await me();
    } catch (err) {
      if (err instanceof Problem && err.status === 401) return;  // the sign-in form is up
      buildHeader(page, null);
      report(err);
      return;
    }
    buildHeader(page, user);
    root.hidden = false;
    if (!keep) root.replaceChildren();
    document.body.dataset.view = "page";
    document.body.dataset.role = user.role;
    try {
      await render(user, root);
    } catch (err) {
      report(err);
    }
    document.body.dataset.ready = String(Date.now());
  };

  const askSignIn = (message) => {
    delete document.body.dataset.ready;
    buildHeader(page, null);
    root.hidden = true;
    status("");
    if (signin) signin.remove();
    signin = signInForm(message);
    main.insertBefore(signin, root);
    document.body.dataset.view = "signin";
    signin.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      const button = form.querySelector("button[type=submit]");
      const errorLine = form.querySelector("#vc-signin-error");
      const username = form.username.value.trim();
      if (!username || !form.password.value) {
        errorLine.textContent = "Hãy nhập tên đăng nhập và mật khẩu.";
        (username ? form.password : form.username).focus();
        return;
      }
      button.disabled = true;
      errorLine.textContent = "";
      try {
        storeToken(await requestToken(username, form.password.value));
        form.password.value = "";
        await show();
        focus(document.querySelector("#vc-page h1, #vc-page h2") || root);
      } catch (err) {
        errorLine.textContent = err instanceof Problem ? err.title : "Đã có lỗi trên trang.";
        form.password.focus();
      } finally {
        button.disabled = false;
      }
    });
    const field = signin.querySelector("#vc-username");
    if (field) field.focus();
  };
  expiredHandler = askSignIn;

  if (token()) await show(); else askSignIn();
}
