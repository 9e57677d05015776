// Operator board (/board): every endpoint's health in the user's scope, grouped by province
// with its communes and districts inside, each room's next or current meeting, and the
// meetings running now or within 24 hours; redrawn every few seconds.
// ?refresh=<seconds> (at least 1) and ?unit=<id> (a unit's subtree).
import {
  startPage, api, apiAll, el, append, replace, status, every, report, toast, describeProbe,
  formatTime, formatShortDate, formatNumber, label, meetingLinks, HEALTH_LABELS,
  SITE_STATE_LABELS, CHANNEL_LABELS, Problem,
} from "/static/console/vc.js";

const params = new URLSearchParams(window.location.search);
const REFRESH_MS = Math.max(1, Number(params.get("refresh")) || 5) * 1000;
const UNIT = params.get("unit");
const STATE_ORDER = { down: 0, unknown: 1, up: 2 };
const KIND_LABELS = { sip: "SIP", h323: "H.323", webrtc: "WebRTC" };
const $ = (id) => document.getElementById(id);

let zone = "Asia/Ho_Chi_Minh";
let lastItems = [];
let lastMeetings = new Map();
let units = new Map();  // id -> unit (the scope's tree, read once per sign-in)

// "14:05 25/11": the way times are written in Vietnamese administrative text.
function shortDateTime(value) {
  return formatTime(value, zone) + " " + formatShortDate(value, zone).slice(0, 5);
}

function milliseconds(value) {
  return formatNumber(value < 10 ? Math.round(value * 10) / 10 : Math.round(value)) + " ms";
}

async function fetchAll(path) {
  return apiAll(path, UNIT ? { unit: UNIT } : {}, { limit: 1000, maxPages: 50 });
}

function countStates(items) {
  const counts = { up: 0, down: 0, unknown: 0 };
  for (const item of items) counts[item.state] = (counts[item.state] || 0) + 1;
  return counts;
}

function describe(item) {
  const parts = [];
  if (item.since) parts.push("từ " + shortDateTime(item.since));
  if (item.latency_ms !== null && item.latency_ms !== undefined) parts.push(milliseconds(item.latency_ms));
  if (item.state !== "up" && item.detail) parts.push(describeProbe(item.detail));
  if (!item.probe_enabled) parts.push("không theo dõi");
  else if (!item.probed) parts.push("không có địa chỉ để kiểm tra");
  if (item.stale) parts.push("kết quả cũ");
  return parts.join(" · ");
}

async function probeNow(item, button) {
  button.disabled = true;
  button.textContent = "Đang kiểm tra…";
  try {
    await api("/api/endpoints/" + encodeURIComponent(item.endpoint_id) + "/probe", { method: "POST" });
    toast("Đã kiểm tra " + item.name + ".", "ok");
  } catch (err) {
    if (err instanceof Problem && err.status === 403) toast("Bạn không có quyền kiểm tra thiết bị.", "error");
    else report(err, "Không kiểm tra được thiết bị " + item.name);
  }
  await refresh();
}

// "Họp lúc 14:05 25/11: <title>", or while it runs "Đang họp: <title> · Đã kết nối · ..."
// with a link to the meeting's live room.
function meetingLine(meeting) {
  const line = el("span", { className: "meeting" + (meeting.running ? " running" : ""), dataset: { meetingId: meeting.meeting_id } });
  if (meeting.running) {
    line.dataset.siteState = meeting.state || "";
    const parts = [label(SITE_STATE_LABELS, meeting.state)];
    if (meeting.channel) parts.push(label(CHANNEL_LABELS, meeting.channel));
    append(line,
      el("span", { className: "when" }, "Đang họp: "),
      el("span", { className: "title" }, meeting.title),
      el("span", { className: "site-state" }, " · " + parts.filter(Boolean).join(" · ")),
      " ",
      el("a", { className: "live", href: meetingLinks.live(meeting.meeting_id) }, "Xem trực tiếp"));
  } else {
    append(line,
      el("span", { className: "when" }, "Họp lúc " + shortDateTime(meeting.start) + ": "),
      el("span", { className: "title" }, meeting.title));
  }
  return line;
}

function card(item) {
  const li = el("li", {
    className: "endpoint state-" + item.state + (item.stale ? " stale" : ""),
    dataset: { endpointId: item.endpoint_id, state: item.state },
  },
  el("span", { className: "dot", "aria-hidden": "true" }),
  el("span", { className: "name" }, item.name),
  el("span", { className: "state-label" }, label(HEALTH_LABELS, item.state)),
  el("span", { className: "room" }, item.room_name + " · " + (KIND_LABELS[item.kind] || item.kind)));
  const meta = describe(item);
  if (meta) li.appendChild(el("span", { className: "meta" }, meta));
  const meeting = lastMeetings.get(item.endpoint_id);
  if (meeting) li.appendChild(meetingLine(meeting));
  if (item.probed) {
    const button = el("button", { type: "button", className: "secondary small", "aria-label": "Kiểm tra ngay " + item.name }, "Kiểm tra ngay");
    button.addEventListener("click", () => probeNow(item, button));
    li.appendChild(el("span", { className: "actions" }, button));
  }
  return li;
}

/** The unit an endpoint's unit is shown under: its province (or the scope's top unit). */
function topOf(unitId) {
  let unit = units.get(unitId);
  let guard = 0;
  while (unit && unit.level !== "province" && unit.parent_id !== null && units.has(unit.parent_id) && guard < 20) {
    unit = units.get(unit.parent_id);
    guard += 1;
  }
  return unit ? unit.id : unitId;
}

function unitHeading(tag, name, items) {
  const counts = countStates(items);
  return el(tag, {}, name, el("span", { className: "counts" },
    label(HEALTH_LABELS, "down") + " " + counts.down + " · " + label(HEALTH_LABELS, "up") + " " + counts.up));
}

function endpointList(items) {
  items.sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.name.localeCompare(b.name, "vi"));
  return el("ul", { className: "endpoints" }, items.map(card));
}

function render(items) {
  const onlyProblems = $("only-problems").checked;
  const counts = countStates(items);
  replace($("summary"), ["down", "unknown", "up"].map((state) => el("span", {
    className: "pill " + state, dataset: { state, count: counts[state] },
  }, label(HEALTH_LABELS, state) + ": " + counts[state])));

  // province (or top unit) -> { name, own: [...], subunits: Map(unit -> {name, items}) }
  const groups = new Map();
  for (const item of items) {
    if (onlyProblems && item.state === "up") continue;
    const top = topOf(item.unit_id);
    if (!groups.has(top)) {
      const unit = units.get(top);
      groups.set(top, { name: unit ? unit.name : item.unit_name, own: [], subunits: new Map(), all: [] });
    }
    const group = groups.get(top);
    group.all.push(item);
    if (top === item.unit_id) group.own.push(item);
    else {
      if (!group.subunits.has(item.unit_id)) group.subunits.set(item.unit_id, { name: item.unit_name, items: [] });
      group.subunits.get(item.unit_id).items.push(item);
    }
  }
  const ordered = [...groups.entries()].sort((a, b) => {
    const downA = a[1].all.some((i) => i.state === "down") ? 0 : 1;
    const downB = b[1].all.some((i) => i.state === "down") ? 0 : 1;
    return downA - downB || a[1].name.localeCompare(b[1].name, "vi");
  });
  const sections = [];
  for (const [unitId, group] of ordered) {
    const section = el("section", { className: "unit", dataset: { unitId } }, unitHeading("h2", group.name, group.all));
    if (group.own.length) section.appendChild(endpointList(group.own));
    const subunits = [...group.subunits.entries()].sort((a, b) => {
      const downA = a[1].items.some((i) => i.state === "down") ? 0 : 1;
      const downB = b[1].items.some((i) => i.state === "down") ? 0 : 1;
      return downA - downB || a[1].name.localeCompare(b[1].name, "vi");
    });
    for (const [subId, sub] of subunits) {
      section.appendChild(el("section", { className: "subunit", dataset: { unitId: subId } },
        unitHeading("h3", sub.name, sub.items), endpointList(sub.items)));
    }
    sections.push(section);
  }
  replace($("units"), sections);
  $("empty").hidden = items.length !== 0;
}

/** The meetings running now or within 24 hours, from each endpoint's next meeting. */
function renderMeetings(meetings, endpointsById) {
  const byMeeting = new Map();
  for (const m of meetings) {
    if (!byMeeting.has(m.meeting_id)) byMeeting.set(m.meeting_id, { ...m, sites: [] });
    byMeeting.get(m.meeting_id).sites.push(m);
  }
  const ordered = [...byMeeting.values()].sort((a, b) => Number(b.running) - Number(a.running) || a.start.localeCompare(b.start));
  const rows = ordered.map((meeting) => {
    const when = meeting.running ? el("span", { className: "badge live" }, "Đang họp")
      : el("span", { className: "meeting-when" }, "Lúc " + shortDateTime(meeting.start));
    const down = meeting.sites.filter((s) => (endpointsById.get(s.endpoint_id) || {}).state === "down");
    const states = new Map();
    for (const site of meeting.sites) {
      if (!meeting.running) continue;
      const key = label(SITE_STATE_LABELS, site.state);
      states.set(key, (states.get(key) || 0) + 1);
    }
    const summary = meeting.sites.length + " điểm cầu trong phạm vi" +
      (states.size ? ": " + [...states.entries()].map(([k, n]) => n + " " + k.toLowerCase()).join(", ") : "") +
      (down.length ? " · " + down.length + " thiết bị mất kết nối" : "");
    return el("li", { className: "board-meeting", dataset: { meetingId: meeting.meeting_id, running: String(meeting.running) } },
      el("span", {}, when, " ", el("span", { className: "meeting-title" }, meeting.title)),
      el("span", { className: "site-states muted" }, summary),
      el("span", { className: "meeting-links" }, el("a", { href: meetingLinks.live(meeting.meeting_id) }, "Phòng điều hành")));
  });
  replace($("meeting-list"), rows);
  $("no-meetings").hidden = rows.length !== 0;
}

async function refresh() {
  const [items, meetings] = await Promise.all([fetchAll("/api/health/endpoints"), fetchAll("/api/health/meetings")]);
  lastItems = items;
  lastMeetings = new Map(meetings.map((m) => [m.endpoint_id, m]));
  render(lastItems);
  renderMeetings(meetings, new Map(items.map((i) => [i.endpoint_id, i])));
  status("Cập nhật lúc " + formatTime(new Date(), zone, { seconds: true }));
  document.body.dataset.loaded = String(Date.now());
}

$("only-problems").addEventListener("change", () => render(lastItems));

startPage({
  page: "board",
  title: "Bảng theo dõi thiết bị",
  keep: true,
  render: async (user) => {
    zone = user.zone;
    try {
      units = new Map((await apiAll("/api/units", {}, { limit: 500, maxPages: 20 })).map((u) => [u.id, u]));
    } catch (err) {
      if (err instanceof Problem && err.status === 401) throw err;
      units = new Map();
    }
    try {
      await refresh();
    } catch (err) {
      if (err instanceof Problem && err.status === 0) status("Mất kết nối tới máy chủ, đang thử lại…");
      else throw err;
    }
    every(REFRESH_MS, async () => {
      try { await refresh(); } catch (err) {
        if (err instanceof Problem && err.status === 0) status("Mất kết nối tới máy chủ, đang thử lại…");
        else throw err;
      }
    });
  },
});
