// Operator board: log in (OAuth2 password grant), then read /api/health/endpoints and each
// endpoint's next meeting (/api/health/meetings), and redraw every few seconds.  The token lives in sessionStorage: closing the tab logs out.
// Everything from the server is inserted as text (textContent), never as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "vcorch.board.token";
  const params = new URLSearchParams(window.location.search);
  // ?refresh=<seconds> (at least 1) and ?unit=<id> (a unit's subtree).
  const REFRESH_MS = Math.max(1, Number(params.get("refresh")) || 5) * 1000;
  const UNIT = params.get("unit");
  const PAGE_SIZE = 1000;
  const MAX_PAGES = 50;
  const ZONE = "Asia/Ho_Chi_Minh";

  const STATE_LABELS = { up: "Hoạt động", down: "Mất kết nối", unknown: "Chưa rõ" };
  const STATE_ORDER = { down: 0, unknown: 1, up: 2 };
  const KIND_LABELS = { sip: "SIP", h323: "H.323", webrtc: "WebRTC" };
  // A site's state in a running meeting, and how it takes part (orchestration's words).
  const SITE_LABELS = {
    pending: "Chờ gọi", dialling: "Đang gọi", connected: "Đã kết nối", failed: "Gọi không được",
    fallback: "Dự phòng qua trình duyệt", disconnected: "Đã ngắt",
  };
  const CHANNEL_LABELS = {
    room_system: "Thiết bị phòng họp", browser: "Trình duyệt (WebRTC)",
    gateway: "Trình duyệt qua cổng SIP", dial_in: "Gọi vào (thiết bị tự quay số)",
  };

  const $ = (id) => document.getElementById(id);
  const timeFormat = new Intl.DateTimeFormat("vi-VN", {
    timeZone: ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const dateTimeFormat = new Intl.DateTimeFormat("vi-VN", {
    timeZone: ZONE, hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit",
    hourCycle: "h23",
  });

  // "14:05 25/11": the way times are written in Vietnamese administrative text.
  function shortDateTime(date) {
    const parts = {};
    for (const part of dateTimeFormat.formatToParts(date)) parts[part.type] = part.value;
    return parts.hour + ":" + parts.minute + " " + parts.day + "/" + parts.month;
  }

  function milliseconds(value) {
    return (value < 10 ? value.toFixed(1) : String(Math.round(value))).replace(".", ",") + " ms";
  }

  let timer = null;
  let lastItems = [];
  let lastMeetings = new Map();

  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }

  function setStatus(text) { $("status").textContent = text; }

  function showLogin(message) {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    window.sessionStorage.removeItem(TOKEN_KEY);
    $("board").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setStatus("");
    document.body.dataset.view = "login";
  }

  function showBoard() {
    $("login").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
    document.body.dataset.view = "board";
    refresh();
  }

  async function login(event) {
    event.preventDefault();
    const form = event.target;
    const button = form.querySelector("button");
    button.disabled = true;
    $("login-error").textContent = "";
    try {
      const response = await fetch("/api/auth/token", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "password",
          username: form.username.value.trim(),
          password: form.password.value,
        }),
      });
      if (response.ok) {
        const body = await response.json();
        window.sessionStorage.setItem(TOKEN_KEY, body.access_token);
        form.password.value = "";
        showBoard();
      } else if (response.status === 429) {
        $("login-error").textContent = "Đăng nhập sai quá nhiều lần, vui lòng thử lại sau.";
      } else {
        $("login-error").textContent = "Tên đăng nhập hoặc mật khẩu không đúng.";
      }
    } catch (err) {
      $("login-error").textContent = "Không kết nối được tới máy chủ.";
    } finally {
      button.disabled = false;
    }
  }

  async function api(path, options) {
    const response = await fetch(path, {
      ...(options || {}),
      headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
    });
    if (response.status === 401) {
      const expired = new Error("expired");
      expired.expired = true;
      throw expired;
    }
    return response;
  }

  async function fetchAll(path) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (UNIT) query.set("unit", UNIT);
      if (cursor) query.set("cursor", cursor);
      const response = await api(path + "?" + query.toString());
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      items.push(...body.items);
      cursor = body.next;
      if (!cursor) break;
    }
    return items;
  }

  async function refresh() {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    if (!token()) { showLogin(); return; }
    try {
      const [items, meetings] = await Promise.all([
        fetchAll("/api/health/endpoints"), fetchAll("/api/health/meetings"),
      ]);
      lastItems = items;
      lastMeetings = new Map(meetings.map((m) => [m.endpoint_id, m]));
      render(lastItems);
      setStatus("Cập nhật lúc " + timeFormat.format(new Date()));
      document.body.dataset.loaded = String(Date.now());
    } catch (err) {
      if (err && err.expired) {
        showLogin("Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại.");
        return;
      }
      setStatus("Mất kết nối tới máy chủ, đang thử lại…");
    }
    timer = window.setTimeout(refresh, REFRESH_MS);
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function countStates(items) {
    const counts = { up: 0, down: 0, unknown: 0 };
    for (const item of items) counts[item.state] = (counts[item.state] || 0) + 1;
    return counts;
  }

  function describe(item) {
    const parts = [];
    if (item.since) parts.push("từ " + shortDateTime(new Date(item.since)));
    if (item.latency_ms !== null && item.latency_ms !== undefined) {
      parts.push(milliseconds(item.latency_ms));
    }
    if (item.state !== "up" && item.detail) parts.push(item.detail);
    if (!item.probe_enabled) parts.push("không theo dõi");
    else if (!item.probed) parts.push("không có địa chỉ để kiểm tra");
    if (item.stale) parts.push("kết quả cũ");
    return parts.join(" · ");
  }

  async function probeNow(item, button) {
    button.disabled = true;
    button.textContent = "Đang kiểm tra…";
    try {
      const response = await api("/api/endpoints/" + item.endpoint_id + "/probe", { method: "POST" });
      if (response.status === 403) {
        setStatus("Bạn không có quyền kiểm tra thiết bị.");
      } else if (!response.ok) {
        setStatus("Không kiểm tra được thiết bị " + item.name + ".");
      }
    } catch (err) {
      if (err && err.expired) { showLogin("Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại."); return; }
    }
    refresh();
  }

  // "Họp lúc 14:05 25/11: <title>", or while it runs "Đang họp: <title> · Đã kết nối · ..."
  // with a link to the meeting's live view.
  function meetingLine(meeting) {
    const line = element("span", "meeting" + (meeting.running ? " running" : ""));
    line.dataset.meetingId = String(meeting.meeting_id);
    if (meeting.running) {
      line.dataset.siteState = meeting.state || "";
      const parts = [SITE_LABELS[meeting.state] || meeting.state];
      if (meeting.channel) parts.push(CHANNEL_LABELS[meeting.channel] || meeting.channel);
      line.appendChild(element("span", "when", "Đang họp: "));
      line.appendChild(element("span", "title", meeting.title));
      line.appendChild(element("span", "site-state", " · " + parts.filter(Boolean).join(" · ")));
      // The live view is JSON for now (a console page comes later).
      const link = element("a", "live", "Xem trực tiếp");
      link.href = meeting.live;
      link.target = "_blank";
      link.rel = "noopener";
      line.appendChild(document.createTextNode(" "));
      line.appendChild(link);
    } else {
      line.appendChild(element("span", "when", "Họp lúc " + shortDateTime(new Date(meeting.start)) + ": "));
      line.appendChild(element("span", "title", meeting.title));
    }
    return line;
  }

  function card(item) {
    const li = element("li", "endpoint state-" + item.state + (item.stale ? " stale" : ""));
    li.dataset.endpointId = String(item.endpoint_id);
    li.dataset.state = item.state;
    li.appendChild(element("span", "dot"));
    li.appendChild(element("span", "name", item.name));
    li.appendChild(element("span", "state-label", STATE_LABELS[item.state] || item.state));
    li.appendChild(element("span", "room", item.room_name + " · " + (KIND_LABELS[item.kind] || item.kind)));
    const meta = describe(item);
    if (meta) li.appendChild(element("span", "meta", meta));
    const meeting = lastMeetings.get(item.endpoint_id);
    if (meeting) li.appendChild(meetingLine(meeting));
    if (item.probed) {
      const actions = element("span", "actions");
      const button = element("button", "small", "Kiểm tra ngay");
      button.type = "button";
      button.addEventListener("click", () => probeNow(item, button));
      actions.appendChild(button);
      li.appendChild(actions);
    }
    return li;
  }

  function render(items) {
    const onlyProblems = $("only-problems").checked;
    const counts = countStates(items);
    const summary = $("summary");
    summary.replaceChildren();
    for (const state of ["down", "unknown", "up"]) {
      const pill = element("span", "pill " + state, STATE_LABELS[state] + ": " + counts[state]);
      pill.dataset.state = state;
      pill.dataset.count = String(counts[state]);
      summary.appendChild(pill);
    }
    const units = new Map();
    for (const item of items) {
      if (onlyProblems && item.state === "up") continue;
      if (!units.has(item.unit_id)) units.set(item.unit_id, { name: item.unit_name, items: [] });
      units.get(item.unit_id).items.push(item);
    }
    const ordered = [...units.entries()].sort((a, b) => {
      const downA = a[1].items.some((i) => i.state === "down") ? 0 : 1;
      const downB = b[1].items.some((i) => i.state === "down") ? 0 : 1;
      return downA - downB || a[1].name.localeCompare(b[1].name, "vi");
    });
    const container = $("units");
    container.replaceChildren();
    for (const [unitId, unit] of ordered) {
      const section = element("section", "unit");
      section.dataset.unitId = String(unitId);
      const heading = element("h2", null, unit.name);
      const unitCounts = countStates(unit.items);
      heading.appendChild(element(
        "span", "counts",
        STATE_LABELS.down + " " + unitCounts.down + " · " + STATE_LABELS.up + " " + unitCounts.up,
      ));
      section.appendChild(heading);
      const list = element("ul", "endpoints");
      unit.items.sort((a, b) =>
        STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.name.localeCompare(b.name, "vi"));
      for (const item of unit.items) list.appendChild(card(item));
      section.appendChild(list);
      container.appendChild(section);
    }
    $("empty").hidden = items.length !== 0;
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", () => showLogin());
    $("only-problems").addEventListener("change", () => render(lastItems));
    if (token()) showBoard(); else showLogin();
  });
})();
