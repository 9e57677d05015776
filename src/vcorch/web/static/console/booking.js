// Booking (/meetings/new, /meetings/{id}/edit, /meetings/new?copy={id}): every field the
// meetings API takes, a recurrence editor, the site picker with site groups, each site's
// free/busy and endpoint health, the conflict check before saving, editing with the version.
import {
  startPage, api, apiAll, el, append, replace, focus, toast, report, confirmDialog, Problem,
  KIND_LABELS, MODE_LABELS, HEALTH_LABELS, APPROVAL_LABELS, STATUS_LABELS, label, meetingLinks,
  zoned, fromZoned, dayKey, formatDate, formatDateTime, formatRange, formatTime, iso, status,
} from "/static/console/vc.js";
import { loadOrganisation, roomLabel, sitePicker } from "/static/console/sitepicker.js";

const WEEKDAY_CODES = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"];
const WEEKDAY_NAMES = ["Chủ Nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"];
const FREQ_LABELS = { "": "Không lặp lại", DAILY: "Hằng ngày", WEEKLY: "Hằng tuần", MONTHLY: "Hằng tháng" };
const FIELD_LABELS = {
  title: "Tiêu đề", kind: "Loại", mode: "Hình thức", organizer_unit_id: "Đơn vị tổ chức",
  chair: "Chủ trì", agenda: "Nội dung", start: "Bắt đầu", end: "Kết thúc", rrule: "Lặp lại",
  exdates: "Ngày bỏ", host_room_id: "Điểm cầu chủ trì", sites: "Điểm cầu", invited: "Khách mời",
  preferred_bridge: "Cầu ưu tiên", external_ref: "Mã tham chiếu", status: "Trạng thái", timezone: "Múi giờ",
};
const CLASH_KIND = { room: "Phòng", endpoint: "Thiết bị", ports: "Cổng cầu truyền hình" };
const pad = (n) => String(n).padStart(2, "0");

function path() {
  const match = window.location.pathname.match(/^\/meetings\/([0-9]+)\/edit$/);
  const params = new URLSearchParams(window.location.search);
  return { editId: match ? Number(match[1]) : null, copyId: params.get("copy") ? Number(params.get("copy")) : null };
}

function field(id, text, input, hint) {
  return el("div", { className: "field" }, el("label", { for: id }, text), input,
    hint ? el("p", { className: "hint", id: id + "-hint" }, hint) : null);
}

/** Parse an RRULE the API stored into the editor's parts (what the editor cannot show stays as text). */
function parseRule(rule) {
  const parts = {};
  for (const piece of String(rule || "").split(";")) {
    const [key, value] = piece.split("=");
    if (key) parts[key.toUpperCase()] = value || "";
  }
  return parts;
}

startPage({
  page: "booking",
  title: "Đặt lịch họp",
  render: async (user, root) => {
    const { editId, copyId } = path();
    const zone = user.zone;
    const org = await loadOrganisation();
    const groups = await apiAll("/api/site-groups").catch(() => []);
    const endpoints = new Map((await apiAll("/api/endpoints").catch(() => [])).map((e) => [e.id, e]));
    const health = new Map();
    try {
      for (const item of await apiAll("/api/health/endpoints", {}, { limit: 1000 })) {
        const previous = health.get(item.room_id);
        // A room is as healthy as its best endpoint: one working system is enough to join.
        const rank = { up: 0, unknown: 1, down: 2 };
        if (!previous || rank[item.state] < rank[previous.state]) health.set(item.room_id, item);
      }
    } catch (err) { /* health is a help, not a condition */ }

    let meeting = null;
    let version = null;
    if (editId || copyId) {
      const response = await api("/api/meetings/" + (editId || copyId), { raw: true });
      meeting = await response.json();
      version = editId ? meeting.version : null;
    }
    const heading = el("h1", { id: "form-title" },
      editId ? "Sửa cuộc họp" : copyId ? "Sao chép cuộc họp" : "Đặt lịch họp");
    document.title = heading.textContent + " — vcorch";

    // -- the fields -------------------------------------------------------------------------
    const title = el("input", { id: "f-title", name: "title", required: true, maxlength: "255" });
    const kind = el("select", { id: "f-kind" }, Object.entries(KIND_LABELS).map(([v, t]) => el("option", { value: v }, t)));
    const mode = el("select", { id: "f-mode" }, Object.entries(MODE_LABELS).map(([v, t]) => el("option", { value: v }, t)));
    const organizer = el("select", { id: "f-organizer" },
      org.units.map((u) => el("option", { value: String(u.id) }, "\u00a0\u00a0".repeat(u.depth) + u.name)));
    const chair = el("input", { id: "f-chair", maxlength: "255" });
    const agenda = el("textarea", { id: "f-agenda", rows: "3" });
    const date = el("input", { id: "f-date", type: "date", required: true });
    const startTime = el("input", { id: "f-start", type: "time", required: true, step: "300" });
    const endTime = el("input", { id: "f-end", type: "time", required: true, step: "300" });
    const draft = el("input", { id: "f-draft", type: "checkbox" });
    const invited = el("textarea", { id: "f-invited", rows: "2", placeholder: "ten@donvi.gov.vn" });
    const bridge = el("input", { id: "f-bridge", maxlength: "64" });
    const externalRef = el("input", { id: "f-ref", maxlength: "255" });
    const hostRoom = el("select", { id: "f-host" });

    // Recurrence.
    const freq = el("select", { id: "f-freq" }, Object.entries(FREQ_LABELS).map(([v, t]) => el("option", { value: v }, t)));
    const interval = el("input", { id: "f-interval", type: "number", min: "1", max: "99", value: "1" });
    const weekdays = WEEKDAY_CODES.map((code, i) => el("input", { type: "checkbox", id: "f-day-" + code, value: code }));
    const endKind = el("select", { id: "f-endkind" },
      el("option", { value: "never" }, "Không hạn"), el("option", { value: "until" }, "Đến ngày"), el("option", { value: "count" }, "Sau số buổi"));
    const until = el("input", { id: "f-until", type: "date" });
    const count = el("input", { id: "f-count", type: "number", min: "1", max: "500" });
    const exdateInput = el("input", { id: "f-exdate", type: "date" });
    const exdates = [];  // ISO instants (occurrence starts) to leave out
    const exdateList = el("ul", { className: "chips", id: "exdate-list", "aria-label": "Các ngày bỏ" });
    const dayBox = el("fieldset", { className: "weekdays", id: "f-days" },
      el("legend", {}, "Vào các ngày"),
      weekdays.map((box, i) => el("label", { className: "inline", for: box.id }, box, WEEKDAY_NAMES[i])));
    const recurrenceBody = el("div", { id: "recurrence-body" },
      el("div", { className: "grid three" },
        field("f-interval", "Cách nhau (số ngày/tuần/tháng)", interval),
        field("f-endkind", "Chuỗi kết thúc", endKind),
        el("div", {}, field("f-until", "Đến ngày (kể cả)", until), field("f-count", "Số buổi", count))),
      dayBox,
      el("div", { className: "filters" },
        field("f-exdate", "Bỏ một buổi (ngày)", exdateInput),
        el("button", { type: "button", className: "secondary", id: "add-exdate" }, "Bỏ buổi này")),
      exdateList);

    // Sites.
    const chosen = new Set();
    const sitesTable = el("tbody", { id: "site-rows" });
    const groupSelect = el("select", { id: "f-group" },
      el("option", { value: "" }, groups.length ? "— Chọn nhóm —" : "Chưa có nhóm điểm cầu"),
      groups.map((g) => el("option", { value: String(g.id) }, g.name + " (" + g.members.length + " điểm)")));
    const checkResult = el("div", { id: "check-result", className: "check", role: "status", "aria-live": "polite" });
    const staleBox = el("div", { id: "stale", className: "card stale", hidden: true, role: "alert" });
    const pastNote = el("p", { id: "past-note", className: "hint", hidden: true },
      "Thời gian này đã qua: cuộc họp được ghi nhận là đã diễn ra (không giữ phòng, không gọi điểm cầu).");

    const picker = sitePicker(org, chosen, { idPrefix: "pick", onChange: () => sitesChanged() });

    // -- filling the form ---------------------------------------------------------------------
    const setWhen = (startIso, endIso) => {
      const s = zoned(startIso, zone);
      const e = zoned(endIso, zone);
      date.value = dayKey(startIso, zone);
      startTime.value = pad(s.hour) + ":" + pad(s.minute);
      endTime.value = pad(e.hour) + ":" + pad(e.minute);
    };
    const fill = (m) => {
      title.value = m ? m.title + (copyId && !editId ? " (bản sao)" : "") : "";
      kind.value = m ? m.kind : "meeting";
      mode.value = m ? m.mode : "online";
      organizer.value = String(m ? m.organizer_unit_id : user.unit_id);
      chair.value = (m && m.chair) || "";
      agenda.value = (m && m.agenda) || "";
      invited.value = m ? m.invited.map((i) => i.email).join("\n") : "";
      bridge.value = (m && m.preferred_bridge) || "";
      externalRef.value = (m && m.external_ref) || "";
      draft.checked = Boolean(m && m.status === "draft");
      chosen.clear();
      if (m) for (const site of m.sites) if (site.approval !== "declined") chosen.add(site.room_id);
      if (m && !copyId) setWhen(m.start, m.end);
      else if (m) {
        // A copy keeps the time of day, a week later than now's next such day.
        const next = new Date(Date.now() + 7 * 86400000);
        const s = zoned(m.start, zone); const e = zoned(m.end, zone);
        date.value = dayKey(next, zone);
        startTime.value = pad(s.hour) + ":" + pad(s.minute);
        endTime.value = pad(e.hour) + ":" + pad(e.minute);
      } else {
        date.value = dayKey(new Date(Date.now() + 86400000), zone);
        startTime.value = "08:00"; endTime.value = "10:00";
      }
      const rule = parseRule(m && !copyId ? m.rrule : m ? m.rrule : "");
      freq.value = FREQ_LABELS[rule.FREQ] !== undefined ? rule.FREQ || "" : "";
      interval.value = rule.INTERVAL || "1";
      for (const box of weekdays) box.checked = (rule.BYDAY || "").split(",").includes(box.value);
      endKind.value = rule.UNTIL ? "until" : rule.COUNT ? "count" : "never";
      until.value = rule.UNTIL ? rule.UNTIL.slice(0, 4) + "-" + rule.UNTIL.slice(4, 6) + "-" + rule.UNTIL.slice(6, 8) : "";
      count.value = rule.COUNT || "";
      exdates.splice(0, exdates.length, ...(m && !copyId ? m.exdates : []));
      renderExdates();
      showRecurrence();
      picker.refresh();
      sitesChanged(m ? m.host_room_id : null);
      heading.textContent = editId ? "Sửa cuộc họp: " + m.title : heading.textContent;
    };

    // -- reading the form ---------------------------------------------------------------------
    const when = () => {
      if (!date.value || !startTime.value || !endTime.value) return null;
      const [y, mo, d] = date.value.split("-").map(Number);
      const [sh, sm] = startTime.value.split(":").map(Number);
      const [eh, em] = endTime.value.split(":").map(Number);
      const start = fromZoned(y, mo, d, sh, sm, zone);
      let end = fromZoned(y, mo, d, eh, em, zone);
      if (end <= start) end = new Date(end.getTime() + 86400000);  // past midnight
      return { start, end };
    };
    const rrule = () => {
      if (!freq.value) return null;
      const parts = ["FREQ=" + freq.value];
      const every = Number(interval.value || 1);
      if (every > 1) parts.push("INTERVAL=" + every);
      if (freq.value === "WEEKLY") {
        const days = weekdays.filter((b) => b.checked).map((b) => b.value);
        if (days.length) parts.push("BYDAY=" + days.join(","));
      }
      if (endKind.value === "until" && until.value) {
        // Inclusive, in UTC (RFC 5545): the end of that day in the meeting's zone.
        const [y, mo, d] = until.value.split("-").map(Number);
        const last = new Date(fromZoned(y, mo, d, 23, 59, zone).getTime());
        parts.push("UNTIL=" + last.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, ""));
      }
      if (endKind.value === "count" && count.value) parts.push("COUNT=" + Number(count.value));
      return parts.join(";");
    };
    const body = () => {
      const times = when();
      const sites = [...chosen].map((room) => {
        const kept = meeting && !copyId ? meeting.sites.find((s) => s.room_id === room) : null;
        return { room_id: room, endpoint_id: kept ? kept.endpoint_id : null, contacts: kept ? kept.contacts : [] };
      });
      return {
        title: title.value.trim(),
        kind: kind.value,
        mode: mode.value,
        organizer_unit_id: Number(organizer.value),
        start: times ? iso(times.start) : null,
        end: times ? iso(times.end) : null,
        timezone: zone,
        rrule: rrule(),
        exdates: freq.value ? exdates : [],
        chair: chair.value.trim() || null,
        agenda: agenda.value.trim() || null,
        host_room_id: hostRoom.value ? Number(hostRoom.value) : null,
        sites,
        invited: invited.value.split(/[\s,;]+/).filter(Boolean).map((email) => ({ email })),
        preferred_bridge: bridge.value.trim() || null,
        external_ref: externalRef.value.trim() || null,
        status: draft.checked ? "draft" : "scheduled",
      };
    };

    // -- recurrence editor --------------------------------------------------------------------
    function showRecurrence() {
      recurrenceBody.hidden = !freq.value;
      dayBox.hidden = freq.value !== "WEEKLY";
      until.disabled = endKind.value !== "until";
      count.disabled = endKind.value !== "count";
    }
    function renderExdates() {
      replace(exdateList, exdates.map((instant, i) => el("li", {},
        formatDate(instant, zone) + " ",
        el("button", {
          type: "button", className: "small secondary", "aria-label": "Giữ lại buổi " + formatDate(instant, zone),
          on: { click: () => { exdates.splice(i, 1); renderExdates(); scheduleCheck(); } },
        }, "×"))));
    }
    freq.addEventListener("change", () => {
      if (freq.value === "WEEKLY" && !weekdays.some((b) => b.checked)) {
        const times = when();
        if (times) weekdays[zoned(times.start, zone).weekday].checked = true;
      }
      showRecurrence(); scheduleCheck();
    });
    endKind.addEventListener("change", () => { showRecurrence(); scheduleCheck(); });
    recurrenceBody.querySelector("#add-exdate").addEventListener("click", () => {
      const times = when();
      if (!exdateInput.value || !times) return;
      const s = zoned(times.start, zone);
      const [y, mo, d] = exdateInput.value.split("-").map(Number);
      const instant = iso(fromZoned(y, mo, d, s.hour, s.minute, zone));
      if (!exdates.includes(instant)) exdates.push(instant);
      exdates.sort();
      exdateInput.value = "";
      renderExdates(); scheduleCheck();
    });

    // -- sites, free/busy, health -----------------------------------------------------------
    let busy = new Map();
    function sitesChanged(preferredHost) {
      const host = preferredHost !== undefined && preferredHost !== null ? String(preferredHost) : hostRoom.value;
      replace(hostRoom, el("option", { value: "" }, "— Không chỉ định —"),
        [...chosen].map((room) => el("option", { value: String(room) }, roomLabel(org.roomById.get(room)) || "Phòng " + room)));
      hostRoom.value = [...chosen].map(String).includes(host) ? host : "";
      renderSites();
      scheduleCheck();
    }
    function renderSites() {
      const rows = [...chosen].map((room) => {
        const info = org.roomById.get(room);
        const state = health.get(room);
        const free = busy.get(room);
        const approval = meeting && !copyId ? (meeting.sites.find((s) => s.room_id === room) || {}).approval : null;
        return el("tr", { dataset: { room: String(room) } },
          el("td", {}, info ? info.name : "Phòng " + room, approval && approval !== "accepted" ? el("span", { className: "badge pending" }, " " + label(APPROVAL_LABELS, approval)) : null),
          el("td", {}, info && info.unit ? info.unit.name : "—"),
          el("td", {}, free === undefined ? el("span", { className: "muted" }, "—")
            : el("span", { className: "badge " + (free ? "bad" : "ok"), dataset: { busy: String(free) } }, free ? "Bận" : "Rảnh")),
          el("td", {}, state ? el("span", { className: "badge " + state.state, title: state.detail || "" }, label(HEALTH_LABELS, state.state))
            : el("span", { className: "muted" }, "Chưa có thiết bị")),
          el("td", {}, el("button", {
            type: "button", className: "small secondary", "aria-label": "Bỏ " + (info ? info.name : room),
            on: { click: () => { chosen.delete(room); picker.refresh(); sitesChanged(); } },
          }, "Bỏ")));
      });
      replace(sitesTable, rows.length ? rows : el("tr", {}, el("td", { colspan: "5", className: "empty" }, "Chưa chọn điểm cầu nào.")));
      document.getElementById("site-count").textContent = chosen.size + " điểm cầu đã chọn";
    }
    async function refreshBusy() {
      const times = when();
      const rooms = [...chosen].filter((r) => org.roomById.has(r));
      if (!times || !rooms.length) { busy = new Map(); renderSites(); return; }
      try {
        // The API answers at most 200 rooms a request (and a bounded query string): in chunks.
        const chunks = [];
        for (let i = 0; i < rooms.length; i += 150) chunks.push(rooms.slice(i, i + 150));
        const answers = await Promise.all(chunks.map((chunk) => api("/api/availability", {
          query: { rooms: chunk.join(","), from: iso(times.start), to: iso(times.end) },
        })));
        const excluded = editId;
        busy = new Map(answers.flatMap((answer) => answer.rooms).map((r) => [r.room_id, r.spans.some((s) => s.busy)]));
        if (excluded && lastCheck && lastCheck.ok) {
          // The meeting being edited holds its own rooms: they are not busy for it.
          for (const room of rooms) busy.set(room, false);
        } else if (excluded && lastCheck) {
          const clashing = new Set(lastCheck.clashes.filter((c) => c.kind === "room").map((c) => c.resource_id));
          for (const room of rooms) busy.set(room, clashing.has(room));
        }
      } catch (err) { busy = new Map(); }
      renderSites();
    }

    // -- the check before saving -------------------------------------------------------------
    let lastCheck = null;
    let checkTimer = null;
    function scheduleCheck() {
      window.clearTimeout(checkTimer);
      checkTimer = window.setTimeout(() => { runCheck().catch(() => {}); }, 400);
    }
    /** The clashes to show: an endpoint's clash is left out when its room's clash says it all. */
    function shownClashes(clashes) {
      const rooms = new Set(clashes.filter((c) => c.kind === "room").map((c) => c.resource_id + "@" + c.start));
      return clashes.filter((c) => {
        if (c.kind !== "endpoint") return true;
        const endpoint = endpoints.get(c.resource_id);
        return !(endpoint && rooms.has(endpoint.room_id + "@" + c.start));
      });
    }
    function describeClash(c) {
      const endpoint = c.kind === "endpoint" ? endpoints.get(c.resource_id) : null;
      const what = c.kind === "ports" ? CLASH_KIND.ports
        : c.kind === "room" ? (org.roomById.get(c.resource_id) || {}).name || "Phòng " + c.resource_id
          : CLASH_KIND.endpoint + " " + (endpoint ? endpoint.name : c.resource_id);
      const other = c.meeting_title ? " — trùng với “" + c.meeting_title + "”" : c.kind === "ports" ? " — hết cổng (" + c.in_use + "/" + c.capacity + ")" : " — đã có lịch khác";
      return what + ": " + formatRange(c.start, c.end, zone) + " " + formatDate(c.start, zone) + other;
    }
    async function runCheck({ quiet = true } = {}) {
      const sent = body();
      pastNote.hidden = true;
      if (!sent.title || !sent.start) { replace(checkResult); return null; }
      try {
        lastCheck = await api("/api/meetings/check", { method: "POST", body: { ...sent, meeting_id: editId } });
      } catch (err) {
        lastCheck = null;
        if (err instanceof Problem && err.status !== 401) {
          replace(checkResult, el("p", { className: "error", dataset: { check: "invalid" } }, err.summary));
          if (!quiet) report(err);
        }
        return null;
      }
      pastNote.hidden = lastCheck.status !== "ended";
      const requests = lastCheck.requests.length
        ? el("p", { className: "hint" }, "Cần đơn vị chủ quản đồng ý: " + lastCheck.requests.map((r) => (org.roomById.get(r) || {}).name || "Phòng " + r).join(", ") + ".")
        : null;
      if (lastCheck.ok) {
        replace(checkResult, el("p", { className: "ok", dataset: { check: "ok" } }, "Không trùng lịch."), requests);
      } else {
        const shown = shownClashes(lastCheck.clashes);
        replace(checkResult,
          el("p", { className: "error", dataset: { check: "clash" } }, "Trùng lịch (" + shown.length + "): hãy đổi giờ hoặc bỏ điểm cầu bị trùng trước khi lưu."),
          el("p", { className: "hint" }, "Giữa hai cuộc họp cùng phòng cần thời gian chuẩn bị, nên cuộc họp liền trước hoặc liền sau cũng tính là trùng."),
          el("ul", { className: "clashes", id: "clash-list" }, shown.map((c) => el("li", {}, describeClash(c)))), requests);
      }
      await refreshBusy();
      return lastCheck;
    }

    // -- saving -------------------------------------------------------------------------------
    function differences(mine, current) {
      const changed = [];
      for (const key of ["title", "kind", "mode", "organizer_unit_id", "chair", "agenda", "start", "end", "rrule", "host_room_id", "preferred_bridge", "external_ref", "status"]) {
        const a = meeting ? meeting[key] : null;
        const b = current[key];
        if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) changed.push([key, a, b]);
      }
      const rooms = (m) => m.sites.map((s) => s.room_id).sort().join(",");
      if (meeting && rooms(meeting) !== rooms(current)) changed.push(["sites", meeting.sites.length + " điểm", current.sites.length + " điểm"]);
      return changed;
    }
    const show = (key, value) => {
      if (value === null || value === undefined || value === "") return "(trống)";
      if (key === "start" || key === "end") return formatDateTime(value, zone);
      if (key === "kind") return label(KIND_LABELS, value);
      if (key === "mode") return label(MODE_LABELS, value);
      if (key === "status") return label(STATUS_LABELS, value);
      if (key === "organizer_unit_id") return (org.unitById.get(value) || {}).name || String(value);
      if (key === "host_room_id") return (org.roomById.get(value) || {}).name || String(value);
      return String(value);
    };
    async function showStale() {
      const response = await api("/api/meetings/" + editId, { raw: true });
      const current = await response.json();
      const changed = differences(null, current);
      replace(staleBox,
        el("h2", { id: "stale-title" }, "Người khác vừa sửa cuộc họp này"),
        el("p", {}, "Bạn đang sửa phiên bản " + version + "; bản hiện tại là phiên bản " + current.version +
          ". Thay đổi của bạn chưa được lưu. Những gì đã đổi:"),
        el("table", { className: "stale-changes" },
          el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Mục"), el("th", { scope: "col" }, "Bạn đã mở"), el("th", { scope: "col" }, "Hiện tại"))),
          el("tbody", {}, changed.map(([key, a, b]) => el("tr", {}, el("th", { scope: "row" }, FIELD_LABELS[key] || key), el("td", {}, show(key, a)), el("td", {}, show(key, b)))))),
        el("div", { className: "actions" },
          el("button", { type: "button", className: "primary", id: "reload", on: { click: () => {
            meeting = current; version = current.version; staleBox.hidden = true; fill(meeting); renderOccurrences();
            toast("Đã tải bản mới nhất (phiên bản " + version + ").", "ok"); focus(heading);
          } } }, "Tải lại bản mới nhất"),
          el("button", { type: "button", className: "secondary", on: { click: () => { staleBox.hidden = true; } } }, "Để sau")));
      staleBox.hidden = false;
      focus(staleBox.querySelector("h2"));
    }

    const saveButton = el("button", { type: "submit", className: "primary", id: "save" }, editId ? "Lưu thay đổi" : "Đặt lịch");
    async function save(event) {
      event.preventDefault();
      if (!title.value.trim()) { toast("Hãy nhập tiêu đề.", "error"); title.focus(); return; }
      if (!chosen.size && mode.value !== "in_person") { toast("Hãy chọn ít nhất một điểm cầu.", "error"); return; }
      saveButton.disabled = true;
      try {
        const checked = await runCheck({ quiet: false });
        if (!checked) return;
        if (!checked.ok) { focus(checkResult.querySelector("p")); return; }
        const sent = body();
        if (editId) {
          const response = await api("/api/meetings/" + editId, { method: "PATCH", body: sent, headers: { "If-Match": '"v' + version + '"' }, raw: true });
          meeting = await response.json();
          version = meeting.version;
          toast("Đã lưu (phiên bản " + version + ").", "ok");
          status("Đã lưu lúc " + formatTime(new Date(), zone));
          fill(meeting);
          renderOccurrences();
        } else {
          const created = await api("/api/meetings", { method: "POST", body: sent });
          toast("Đã đặt lịch “" + created.title + "”.", "ok");
          window.location.assign(meetingLinks.edit(created.id) + "?created=1");
        }
      } catch (err) {
        if (err instanceof Problem && err.status === 412 && editId) await showStale();
        else if (err instanceof Problem && err.slug === "booking-conflict") { await runCheck(); report(err); }
        else report(err, "Chưa lưu được");
      } finally {
        saveButton.disabled = false;
      }
    }

    // -- occurrences of a series (edit) -------------------------------------------------------
    const occurrenceList = el("ul", { className: "meetings occurrences", id: "occurrences" });
    async function renderOccurrences() {
      if (!editId || !meeting) return;
      const from = new Date(Date.now() - 86400000);
      const to = new Date(Math.max(Date.now(), new Date(meeting.start).getTime()) + 120 * 86400000);
      let found;
      try {
        found = await api("/api/meetings/" + editId + "/occurrences", { query: { from: iso(from), to: iso(to) } });
      } catch (err) { report(err); return; }
      const closed = ["ended", "cancelled", "failed", "missed"].includes(meeting.status);
      replace(occurrenceList, found.items.slice(0, 60).map((occ) => {
        const moveDate = el("input", { type: "date", id: "move-date-" + occ.key, value: dayKey(occ.start, zone) });
        const moveTime = el("input", { type: "time", id: "move-time-" + occ.key, step: "300", value: formatTime(occ.start, zone) });
        const mover = el("div", { className: "filters mover", hidden: true },
          field(moveDate.id, "Ngày mới", moveDate), field(moveTime.id, "Giờ bắt đầu mới", moveTime),
          el("button", { type: "button", className: "primary small", on: { click: () => changeOccurrence(occ, moveDate.value, moveTime.value) } }, "Lưu buổi này"));
        return el("li", { dataset: { key: occ.key, cancelled: String(occ.cancelled), moved: String(occ.moved) } },
          el("span", { className: "meeting-when" }, formatDate(occ.start, zone) + " · " + formatRange(occ.start, occ.end, zone)),
          el("span", { className: "meeting-meta" },
            occ.cancelled ? el("span", { className: "badge cancelled" }, "Đã hủy") : null,
            occ.moved ? el("span", { className: "badge pending" }, "Đã dời") : null),
          closed || occ.cancelled ? null : el("div", { className: "actions" },
            el("button", { type: "button", className: "small secondary", "aria-expanded": "false",
              "aria-label": "Dời buổi " + formatDate(occ.start, zone),
              on: { click: (e) => { mover.hidden = !mover.hidden; e.target.setAttribute("aria-expanded", String(!mover.hidden)); if (!mover.hidden) moveDate.focus(); } } }, "Dời"),
            el("button", { type: "button", className: "small danger", "aria-label": "Hủy buổi " + formatDate(occ.start, zone),
              on: { click: () => cancelOccurrence(occ) } }, "Hủy buổi này")),
          mover);
      }));
      if (!found.items.length) replace(occurrenceList, el("li", { className: "empty" }, "Không có buổi nào trong 120 ngày tới."));
    }
    async function afterOccurrenceChange(promise, done) {
      try {
        const response = await promise;
        meeting = await response.json();
        version = meeting.version;
        toast(done, "ok");
        await renderOccurrences();
      } catch (err) {
        if (err instanceof Problem && err.status === 412) await showStale();
        else report(err);
      }
    }
    function changeOccurrence(occ, newDate, newTime) {
      if (!newDate || !newTime) return;
      const [y, mo, d] = newDate.split("-").map(Number);
      const [h, mi] = newTime.split(":").map(Number);
      const start = fromZoned(y, mo, d, h, mi, zone);
      const end = new Date(start.getTime() + (new Date(occ.end) - new Date(occ.start)));
      afterOccurrenceChange(api("/api/meetings/" + editId + "/occurrences/" + occ.key, {
        method: "PATCH", body: { start: iso(start), end: iso(end) }, headers: { "If-Match": '"v' + version + '"' }, raw: true,
      }), "Đã dời buổi " + formatDate(occ.start, zone) + " sang " + formatDateTime(start, zone) + ".");
    }
    async function cancelOccurrence(occ) {
      if (!await confirmDialog("Hủy buổi " + formatDate(occ.start, zone) + "? Các buổi khác giữ nguyên.", { confirm: "Hủy buổi này", cancel: "Không" })) return;
      afterOccurrenceChange(api("/api/meetings/" + editId + "/occurrences/" + occ.key, {
        method: "DELETE", headers: { "If-Match": '"v' + version + '"' }, raw: true,
      }), "Đã hủy buổi " + formatDate(occ.start, zone) + ".");
    }
    async function cancelSeries() {
      const question = meeting.rrule ? "Hủy cả chuỗi cuộc họp “" + meeting.title + "”? Mọi buổi sẽ bị hủy và khách mời được báo." : "Hủy cuộc họp “" + meeting.title + "”? Khách mời sẽ được báo.";
      if (!await confirmDialog(question, { confirm: "Hủy cuộc họp", cancel: "Không" })) return;
      try {
        const response = await api("/api/meetings/" + editId, { method: "DELETE", headers: { "If-Match": '"v' + version + '"' }, raw: true });
        meeting = await response.json();
        version = meeting.version;
        toast("Đã hủy cuộc họp.", "ok");
        document.getElementById("meeting-status").textContent = label(STATUS_LABELS, meeting.status);
        await renderOccurrences();
      } catch (err) {
        if (err instanceof Problem && err.status === 412) await showStale(); else report(err);
      }
    }

    // -- the page -----------------------------------------------------------------------------
    const addGroup = el("button", { type: "button", className: "secondary", id: "add-group", on: { click: () => {
      const group = groups.find((g) => String(g.id) === groupSelect.value);
      if (!group) return;
      let added = 0;
      for (const member of group.members) if (!chosen.has(member.room_id)) { chosen.add(member.room_id); added += 1; }
      picker.refresh(); sitesChanged();
      toast("Đã thêm " + added + " điểm cầu của nhóm “" + group.name + "”.", "ok");
    } } }, "Thêm cả nhóm");

    const form = el("form", { id: "meeting-form", novalidate: true, "aria-labelledby": "form-title", on: { submit: save } },
      el("section", { className: "card", "aria-labelledby": "sec-what" },
        el("h2", { id: "sec-what" }, "Cuộc họp"),
        field("f-title", "Tiêu đề", title),
        el("div", { className: "grid three" }, field("f-kind", "Loại", kind), field("f-mode", "Hình thức", mode), field("f-organizer", "Đơn vị tổ chức", organizer)),
        el("div", { className: "grid two" }, field("f-chair", "Chủ trì", chair), field("f-host", "Điểm cầu chủ trì", hostRoom, "Gọi trước tiên, ghi là điểm cầu chủ trì.")),
        field("f-agenda", "Nội dung, chương trình", agenda)),
      el("section", { className: "card", "aria-labelledby": "sec-when" },
        el("h2", { id: "sec-when" }, "Thời gian"),
        el("div", { className: "grid three" }, field("f-date", "Ngày", date), field("f-start", "Bắt đầu", startTime), field("f-end", "Kết thúc", endTime)),
        el("p", { className: "hint" }, "Giờ " + zone + "."), pastNote,
        field("f-freq", "Lặp lại", freq), recurrenceBody),
      el("section", { className: "card", "aria-labelledby": "sec-sites" },
        el("h2", { id: "sec-sites" }, "Điểm cầu"),
        el("div", { className: "filters" }, field("f-group", "Nhóm điểm cầu", groupSelect), addGroup,
          el("a", { href: "/site-groups" }, "Quản lý nhóm")),
        el("div", { className: "grid two sites" },
          el("div", {}, el("h3", {}, "Chọn phòng"), picker.node),
          el("div", {}, el("h3", { id: "site-count" }, "0 điểm cầu đã chọn"),
            el("div", { className: "table-wrap" }, el("table", { id: "site-table", "aria-labelledby": "site-count" },
              el("thead", {}, el("tr", {}, ["Phòng", "Đơn vị", "Lúc đó", "Thiết bị", ""].map((t) => el("th", { scope: "col" }, t)))),
              sitesTable))))),
      el("section", { className: "card", "aria-labelledby": "sec-more" },
        el("h2", { id: "sec-more" }, "Thêm"),
        field("f-invited", "Khách mời (thư điện tử, mỗi dòng một địa chỉ)", invited),
        el("div", { className: "grid two" }, field("f-bridge", "Cầu truyền hình ưu tiên", bridge), field("f-ref", "Mã tham chiếu", externalRef)),
        el("label", { className: "inline", for: "f-draft" }, draft, "Lưu nháp (chưa giữ phòng, chưa gửi giấy mời)")),
      el("section", { className: "card", "aria-labelledby": "sec-check" },
        el("h2", { id: "sec-check" }, "Kiểm tra và lưu"),
        checkResult,
        el("div", { className: "actions" },
          el("button", { type: "button", className: "secondary", id: "check", on: { click: () => runCheck({ quiet: false }) } }, "Kiểm tra trùng lịch"),
          saveButton)));

    const side = [];
    if (editId) {
      side.push(el("section", { className: "card", "aria-labelledby": "sec-series" },
        el("h2", { id: "sec-series" }, "Các buổi họp"),
        el("p", {}, "Trạng thái: ", el("strong", { id: "meeting-status" }, label(STATUS_LABELS, meeting.status)),
          " · ", el("a", { href: meetingLinks.copy(editId) }, "Sao chép cuộc họp"),
          " · ", el("a", { href: meetingLinks.attendance(editId) }, "Điểm danh")),
        occurrenceList,
        el("div", { className: "actions" },
          el("button", { type: "button", className: "danger", id: "cancel-series", on: { click: cancelSeries } },
            meeting.rrule ? "Hủy cả chuỗi" : "Hủy cuộc họp"))));
    }
    append(root, heading, staleBox, form, side);
    for (const input of [date, startTime, endTime, interval, until, count, mode, organizer, title])
      input.addEventListener("change", scheduleCheck);
    for (const box of weekdays) box.addEventListener("change", scheduleCheck);
    fill(meeting);
    if (new URLSearchParams(window.location.search).get("created")) toast("Đã đặt lịch. Bạn có thể dời hoặc hủy từng buổi dưới đây.", "ok");
    await renderOccurrences();
    await runCheck();
  },
});
