// The live room (/meetings/{id}/live): every site as a tile, kept up to date from the live
// stream (GET /api/meetings/{id}/live/stream, server-sent events read with fetch, since the
// token is a bearer header), per-site and meeting actions.  See docs/console.md#live-room.
import {
  startPage, api, el, append, replace, setText, report, toast, status, confirmDialog, token,
  onSignOut, focus, label, formatTime, formatDateTime, SITE_STATE_LABELS, STATUS_LABELS,
  CHANNEL_LABELS, meetingLinks, Problem,
} from "/static/console/vc.js";

const meetingId = decodeURIComponent(window.location.pathname.split("/")[2] || "");
const LIVE = ["launching", "live"];
const OVER = ["ended", "missed", "failed"];
// The sites "Gọi lại các điểm lỗi" calls again: their room system could not be reached.
const FAILED = ["failed", "fallback"];
const RUN_LABELS = { ...STATUS_LABELS, launching: "Đang khởi động", scheduled: "Chưa bắt đầu" };

// The orchestrator's own words for a site's last error, in Vietnamese; a bridge's own message
// is shown as it is, marked as English.
const ERROR_WORDS = {
  "the call was not answered": "Cuộc gọi không được trả lời",
  "no answer": "Không trả lời",
  "the call dropped": "Cuộc gọi bị rớt",
  "the call ended": "Cuộc gọi đã kết thúc",
  "the browser left": "Trình duyệt đã rời cuộc họp",
  "the room's unit took its room out of the meeting": "Đơn vị của phòng đã rút phòng khỏi cuộc họp",
  "no bridge can host this meeting now": "Hiện không có cầu hội nghị nào tiếp nhận được cuộc họp",
};

let view = null;          // the stream's view, as the last messages left it
let zone = undefined;
let parts = null;         // the page's nodes
let stream = null;        // { abort } of the stream being read
let retryDelay = 1000;

function sitePath(site, action) {
  return "/api/meetings/" + encodeURIComponent(meetingId) + "/sites/" +
    encodeURIComponent(site.site_id) + "/" + action;
}

// -- reading the stream --------------------------------------------------------------------

function parseBlock(block) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;           // a comment: the keep-alive
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    if (field === "event") kind = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { kind, data: JSON.parse(data.join("\n")) } : null;
}

async function follow() {
  if (stream) stream.abort();
  const controller = new AbortController();
  stream = controller;
  let ended = null;
  try {
    const response = await fetch("/api/meetings/" + encodeURIComponent(meetingId) + "/live/stream", {
      headers: { Authorization: "Bearer " + token(), Accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (!response.ok) {
      // api() turns the answer into a Problem (and a 401 into the sign-in form).
      if (response.status === 401) { await api("/api/auth/me"); return; }
      const body = await response.json().catch(() => ({}));
      throw new Problem({ ...body, status: response.status, body });
    }
    status("Đang cập nhật trực tiếp");
    retryDelay = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const message = parseBlock(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (!message) continue;
        if (message.kind === "end") ended = message.data.reason;
        else apply(message.kind, message.data);
      }
    }
  } catch (err) {
    if (controller.signal.aborted) return;
    if (err instanceof Problem) { report(err, "Không theo dõi được cuộc họp"); if (err.status < 500) return; }
  }
  if (controller.signal.aborted || stream !== controller) return;
  stream = null;
  if (ended === "over" || ended === "gone") {
    status("Cuộc họp đã kết thúc lúc " + (view && view.ended_at ? formatTime(view.ended_at, zone) : "—"));
    return;
  }
  if (ended === "token") { await api("/api/auth/me").catch(() => null); if (!token()) return; }
  status("Mất kết nối trực tiếp, đang nối lại…");
  const wait = retryDelay;
  retryDelay = Math.min(retryDelay * 2, 15000);
  window.setTimeout(() => { if (!stream && token()) follow(); }, wait);
}

function apply(kind, data) {
  if (kind === "snapshot") {
    view = data;
    drawAll();
  } else if (kind === "site" && view) {
    const at = view.sites.findIndex((s) => s.site_id === data.site_id);
    if (at >= 0) view.sites[at] = data; else view.sites.push(data);
    drawTile(data);
    drawBulk();
  } else if (kind === "run" && view) {
    Object.assign(view, data);
    drawRun();
    drawBulk();
  }
  document.body.dataset.streamSeq = String(Number(document.body.dataset.streamSeq || 0) + 1);
}

// -- drawing -------------------------------------------------------------------------------

function badge(state, text) { return el("span", { className: "badge " + state }, text); }

function drawRun() {
  const running = LIVE.includes(view.status);
  replace(parts.state, badge(view.status, label(RUN_LABELS, view.status)));
  const when = [];
  if (view.start) when.push("Bắt đầu " + formatDateTime(view.start, zone));
  if (view.end) when.push("kết thúc dự kiến " + formatTime(view.end, zone));
  if (view.ended_at) when.push("đã kết thúc lúc " + formatTime(view.ended_at, zone));
  setText(parts.when, when.join(", "));
  const { connected, total } = view.progress;
  parts.meter.max = Math.max(total, 1);
  parts.meter.value = connected;
  setText(parts.count, connected + "/" + total + " điểm cầu đã kết nối");
  parts.start.hidden = !view.controls || running;
  parts.extendBox.hidden = !view.controls || !running;
  parts.end.hidden = !view.controls || !running;
  parts.controls.hidden = !view.controls;
  replace(parts.incidents, ...(view.incidents || []).map((i) =>
    el("li", {}, (i.at ? formatTime(i.at, zone) + " · " : "") + (i.detail || i.kind))));
  parts.incidentsBox.hidden = !(view.incidents || []).length;
}

function drawBulk() {
  const failed = view.sites.filter((s) => s.actions && FAILED.includes(s.state));
  parts.bulk.hidden = !LIVE.includes(view.status) || !view.sites.some((s) => s.actions);
  parts.redialAll.disabled = failed.length === 0;
  setText(parts.redialAll, "Gọi lại các điểm lỗi (" + failed.length + ")");
}

function drawAll() {
  drawRun();
  const tiles = view.sites.map((site) => tile(site));
  replace(parts.tiles, ...tiles);
  parts.empty.hidden = tiles.length > 0;
  drawBulk();
}

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value === null || value === undefined || value === "" ? "—" : String(value))];
}

function errorFact(text) {
  if (!text) return fact("Lỗi gần nhất", null);
  const words = ERROR_WORDS[text];
  return [el("dt", {}, "Lỗi gần nhất"), words ? el("dd", {}, words) : el("dd", { lang: "en" }, text)];
}

function tile(site) {
  const running = view && LIVE.includes(view.status);
  const name = el("h3", { id: "site-" + site.site_id + "-name" }, site.room_name);
  const head = el("div", { className: "tile-head" }, name,
    badge(site.state, label(SITE_STATE_LABELS, site.state)));
  const facts = el("dl", { className: "facts" },
    fact("Kênh", site.channel ? (site.channel_label || label(CHANNEL_LABELS, site.channel)) : null),
    fact("Từ lúc", site.since ? formatTime(site.since, zone, { seconds: true }) : null),
    fact("Số lần gọi", site.attempts),
    errorFact(site.last_error));
  const notes = [];
  if (site.host) notes.push(el("span", { className: "badge" }, "Điểm chủ trì"));
  if (site.muted) notes.push(el("span", { className: "badge warn" }, "Đã tắt tiếng"));
  if (site.separate_room) notes.push(el("span", { className: "badge bad" }, "Không nghe được cuộc họp"));
  const node = el("li", {
    className: "tile " + site.state, dataset: { siteId: site.site_id, state: site.state },
    "aria-labelledby": "site-" + site.site_id + "-name",
  }, head, notes.length ? el("p", { className: "notes" }, notes) : null, facts);
  if (site.actions && running) {
    const act = (text, action, extra = {}) => el("button", {
      type: "button", className: "secondary small", ...extra,
      "aria-label": text + " — " + site.room_name,
      on: { click: (event) => siteAction(event.currentTarget, site, action) },
    }, text);
    append(node, el("div", { className: "actions" },
      act("Gọi lại", "redial"),
      site.muted ? act("Bật tiếng", "unmute") : act("Tắt tiếng", "mute"),
      act("Ngắt", "disconnect"),
      act("Liên kết trình duyệt", "link")));
  }
  return node;
}

function drawTile(site) {
  const old = parts.tiles.querySelector('[data-site-id="' + CSS.escape(String(site.site_id)) + '"]');
  const fresh = tile(site);
  const hadFocus = old && old.contains(document.activeElement) ? document.activeElement.textContent : null;
  if (old) old.replaceWith(fresh); else parts.tiles.appendChild(fresh);
  parts.empty.hidden = true;
  if (hadFocus) {
    const again = [...fresh.querySelectorAll("button")].find((b) => b.textContent === hadFocus);
    if (again) again.focus();
  }
}

// -- actions -------------------------------------------------------------------------------

const DONE = {
  redial: "Đang gọi lại", mute: "Đã tắt tiếng", unmute: "Đã bật tiếng", disconnect: "Đã ngắt",
};

async function siteAction(button, site, action) {
  if (action === "link") return showLink(button, site);
  if (action === "disconnect" && !(await confirmDialog(
    "Ngắt điểm cầu " + site.room_name + "? Điểm cầu sẽ không được gọi lại cho tới khi bấm Gọi lại.",
    { confirm: "Ngắt", cancel: "Không" }))) return;
  button.disabled = true;
  try {
    await api(sitePath(site, action), { method: "POST" });
    toast(DONE[action] + ": " + site.room_name, "ok");
  } catch (err) {
    report(err, site.room_name);
  } finally {
    button.disabled = false;
  }
}

async function redialFailed() {
  const failed = view.sites.filter((s) => s.actions && FAILED.includes(s.state));
  if (!failed.length) return;
  parts.redialAll.disabled = true;
  let done = 0;
  for (const site of failed) {
    try { await api(sitePath(site, "redial"), { method: "POST" }); done += 1; } catch (err) { report(err, site.room_name); }
  }
  toast("Đã gọi lại " + done + "/" + failed.length + " điểm cầu lỗi", done ? "ok" : "error");
  drawBulk();
}

function svgData(svg) {
  const bytes = new TextEncoder().encode(svg);
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return "data:image/svg+xml;base64," + window.btoa(text);
}

async function copyText(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch (err) {
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch (again) { return false; }
  }
}

async function showLink(button, site) {
  button.disabled = true;
  let link;
  try {
    link = await api(sitePath(site, "link"), { method: "POST" });
  } catch (err) {
    report(err, "Không tạo được liên kết cho " + site.room_name);
    return;
  } finally {
    button.disabled = false;
  }
  const input = el("input", { id: "link-url", readonly: true, value: link.url, className: "link-url" });
  const said = el("p", { className: "copied", role: "status" });
  const copy = el("button", { type: "button", className: "primary" }, "Sao chép liên kết");
  copy.addEventListener("click", async () => {
    setText(said, (await copyText(input)) ? "Đã sao chép liên kết." : "Không sao chép được: hãy chọn và sao chép liên kết.");
  });
  const close = el("button", { type: "button", className: "secondary" }, "Đóng");
  const dialog = el("dialog", { className: "vc-dialog link-dialog", "aria-labelledby": "link-title" },
    el("h2", { id: "link-title" }, "Liên kết trình duyệt — " + site.room_name),
    el("p", { className: "hint" }, "Người ở điểm cầu mở liên kết này (hoặc quét mã QR) bằng trình duyệt để vào cùng cuộc họp. Hết hạn lúc " +
      formatDateTime(link.expires_at, zone) + "."),
    el("label", { for: "link-url" }, "Liên kết"),
    input,
    link.qr_svg ? el("img", { className: "qr", src: svgData(link.qr_svg), alt: "Mã QR của liên kết trình duyệt cho " + site.room_name }) : null,
    said,
    el("div", { className: "actions" }, close, copy));
  const finish = () => { dialog.close(); dialog.remove(); button.focus(); };
  close.addEventListener("click", finish);
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(); });
  document.body.appendChild(dialog);
  dialog.showModal();
  copy.focus();
}

async function meetingAction(action, button, body) {
  if (action === "end" && !(await confirmDialog(
    "Kết thúc cuộc họp cho mọi điểm cầu? Mọi cuộc gọi sẽ bị ngắt.", { confirm: "Kết thúc", cancel: "Không" }))) return;
  button.disabled = true;
  try {
    const answer = await api("/api/meetings/" + encodeURIComponent(meetingId) + "/" + action, { method: "POST", body });
    toast({ start: "Đã bắt đầu cuộc họp", extend: "Đã gia hạn cuộc họp", end: "Đã kết thúc cuộc họp" }[action], "ok");
    if (action === "start" && !stream) follow();
    if (action === "end" && answer && view) { view.status = answer.status; view.ended_at = answer.ended_at; drawRun(); drawBulk(); }
  } catch (err) {
    report(err);
  } finally {
    button.disabled = false;
  }
}

// -- the page ------------------------------------------------------------------------------

function frame(title) {
  const h1 = el("h1", {}, title);
  const state = el("span", { className: "run-state" });
  const when = el("span", { className: "muted" });
  const meter = el("progress", { id: "launch-progress", max: 1, value: 0, "aria-labelledby": "launch-count" });
  const count = el("span", { id: "launch-count" });
  const start = el("button", { type: "button", id: "meeting-start" }, "Bắt đầu cuộc họp");
  const minutes = el("select", { id: "extend-minutes" },
    ...[15, 30, 60].map((m) => el("option", { value: String(m) }, m + " phút")));
  const extend = el("button", { type: "button", className: "secondary" }, "Gia hạn");
  const extendBox = el("span", { className: "extend" }, el("label", { for: "extend-minutes", className: "inline" }, "Gia hạn thêm"), minutes, extend);
  const end = el("button", { type: "button", className: "danger", id: "meeting-end" }, "Kết thúc cuộc họp");
  const controls = el("div", { className: "actions", role: "group", "aria-label": "Điều khiển cuộc họp" }, start, extendBox, end);
  start.addEventListener("click", () => meetingAction("start", start, {}));
  extend.addEventListener("click", () => meetingAction("extend", extend, { minutes: Number(minutes.value) }));
  end.addEventListener("click", () => meetingAction("end", end));
  const redialAll = el("button", { type: "button", className: "secondary", id: "redial-failed" }, "Gọi lại các điểm lỗi");
  redialAll.addEventListener("click", redialFailed);
  const bulk = el("div", { className: "actions", role: "group", "aria-label": "Thao tác hàng loạt" }, redialAll);
  const tiles = el("ul", { className: "tiles", "aria-label": "Các điểm cầu" });
  const empty = el("p", { className: "empty", hidden: true }, "Không có điểm cầu nào trong phạm vi của bạn.");
  const incidents = el("ul");
  const incidentsBox = el("section", { className: "card", "aria-labelledby": "incidents-title", hidden: true },
    el("h2", { id: "incidents-title" }, "Sự cố"), incidents);
  const head = el("section", { className: "card live-head", "aria-labelledby": "live-title" },
    el("p", { className: "run-line" }, state, " ", when),
    el("div", { className: "progress" }, meter, count),
    controls, bulk,
    el("p", { className: "meeting-links" },
      el("a", { href: meetingLinks.attendance(meetingId) }, "Điểm danh")));
  h1.id = "live-title";
  parts = { state, when, meter, count, start, extendBox, end, controls, bulk, redialAll, tiles, empty, incidents, incidentsBox };
  return [h1, head, el("section", { "aria-labelledby": "tiles-title" }, el("h2", { id: "tiles-title" }, "Điểm cầu"), tiles, empty), incidentsBox];
}

startPage({
  page: "live",
  title: "Phòng điều hành",
  render: async (user, root) => {
    zone = user.zone;
    let title = "Cuộc họp #" + meetingId;
    try {
      const meeting = await api("/api/meetings/" + encodeURIComponent(meetingId));
      title = meeting.title;
    } catch (err) {
      if (!(err instanceof Problem) || (err.status !== 404 && err.status !== 403)) throw err;
    }
    document.title = title + " — Phòng điều hành — vcorch";
    append(root, ...frame(title));
    onSignOut(() => { if (stream) stream.abort(); stream = null; });
    // The page counts as ready with the first view; the rest arrives as it changes.
    follow();
    await new Promise((resolve) => {
      const started = Date.now();
      const wait = () => (view || Date.now() - started > 5000 ? resolve() : window.setTimeout(wait, 30));
      wait();
    });
    focus(root.querySelector("h1"));
  },
});
