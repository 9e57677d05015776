// Other units' requests for the rooms of your scope (/site-requests): a meeting organised
// elsewhere asked for one of your rooms; until your unit accepts, the room is not held.
// GET /api/site-requests, POST /api/meetings/{id}/sites/{site_id}/approval.
import {
  startPage, apiAll, api, el, append, replace, setText, report, toast, status, focus, label,
  formatDate, formatRange, formatTime, APPROVAL_LABELS, STATUS_LABELS, Problem,
} from "/static/console/vc.js";

const FILTERS = [["pending", "Chờ duyệt"], ["accepted", "Đã chấp nhận"], ["declined", "Đã từ chối"]];
const FREQ = { DAILY: "hằng ngày", WEEKLY: "hằng tuần", MONTHLY: "hằng tháng", YEARLY: "hằng năm" };

let zone = undefined;
let shown = "pending";
let parts = null;

function repeats(rule) {
  if (!rule) return null;
  const freq = /FREQ=([A-Z]+)/.exec(rule);
  return "Lặp " + (freq ? FREQ[freq[1]] || freq[1].toLowerCase() : "lại");
}

function card(item) {
  const note = el("input", { id: "note-" + item.site_id, name: "note", maxlength: "1000", autocomplete: "off" });
  const accept = el("button", { type: "button", "aria-label": "Chấp nhận — " + item.room_name + " — " + item.meeting_title }, "Chấp nhận");
  const decline = el("button", { type: "button", className: "danger", "aria-label": "Từ chối — " + item.room_name + " — " + item.meeting_title }, "Từ chối");
  const when = formatDate(item.start, zone) + ", " + formatRange(item.start, item.end, zone);
  const headingId = "request-" + item.site_id;
  const node = el("li", { className: "card request", dataset: { siteId: item.site_id, meetingId: item.meeting_id }, "aria-labelledby": headingId },
    el("h2", { id: headingId }, item.meeting_title),
    el("p", { className: "meeting-meta" },
      el("span", { className: "badge " + item.approval }, label(APPROVAL_LABELS, item.approval)), " ",
      label(STATUS_LABELS, item.meeting_status)),
    el("dl", { className: "facts" },
      el("dt", {}, "Phòng được đề nghị"), el("dd", {}, item.room_name + " (" + item.room_unit_name + ")"),
      el("dt", {}, "Đơn vị tổ chức"), el("dd", {}, item.organizer_unit_name),
      el("dt", {}, "Thời gian"), el("dd", {}, when + (item.rrule ? " · " + repeats(item.rrule) +
        (item.series_end ? " đến " + formatDate(item.series_end, zone) : "") : "")),
      item.decided_by ? [el("dt", {}, "Quyết định"), el("dd", {}, item.decided_by + (item.decided_at ? ", " + formatDate(item.decided_at, zone) + " " + formatTime(item.decided_at, zone) : "") +
        (item.decision_note ? " — " + item.decision_note : ""))] : null));
  const actions = el("div", { className: "actions" });
  if (item.approval !== "accepted") actions.appendChild(accept);
  if (item.approval !== "declined") actions.appendChild(decline);
  append(node, el("div", { className: "field" }, el("label", { for: note.id }, "Ghi chú gửi đơn vị tổ chức (không bắt buộc)"), note), actions);
  const decide = async (decision, button) => {
    button.disabled = true;
    try {
      const body = { decision };
      if (note.value.trim()) body.note = note.value.trim();
      await api("/api/meetings/" + encodeURIComponent(item.meeting_id) + "/sites/" + encodeURIComponent(item.site_id) + "/approval", { method: "POST", body });
      toast((decision === "accept" ? "Đã chấp nhận: " : "Đã từ chối: ") + item.room_name + " — " + item.meeting_title, "ok");
      await load();
      focus(parts.heading);
    } catch (err) {
      if (err instanceof Problem && err.slug === "booking-conflict") {
        report(err, "Phòng đã bận vào giờ đó, không chấp nhận được");
      } else {
        report(err, "Không ghi được quyết định");
      }
      button.disabled = false;
    }
  };
  accept.addEventListener("click", () => decide("accept", accept));
  decline.addEventListener("click", () => decide("decline", decline));
  return node;
}

async function load() {
  const items = await apiAll("/api/site-requests", { status: shown }, { limit: 200, maxPages: 10 });
  replace(parts.list, ...items.map(card));
  parts.none.hidden = items.length > 0;
  setText(parts.count, items.length + " yêu cầu " + label(Object.fromEntries(FILTERS), shown).toLowerCase());
  status("Cập nhật lúc " + formatTime(new Date(), zone, { seconds: true }));
}

startPage({
  page: "site-requests",
  title: "Yêu cầu điểm cầu",
  render: async (user, root) => {
    zone = user.zone;
    const heading = el("h1", {}, "Yêu cầu điểm cầu");
    const select = el("select", { id: "request-filter" }, ...FILTERS.map(([value, text]) => el("option", { value }, text)));
    select.addEventListener("change", async () => { shown = select.value; try { await load(); } catch (err) { report(err); } });
    const count = el("p", { id: "request-count", role: "status" });
    const list = el("ul", { className: "requests", "aria-label": "Các yêu cầu" });
    const none = el("p", { className: "empty", hidden: true }, "Không có yêu cầu nào.");
    parts = { heading, list, none, count };
    append(root, heading,
      el("p", { className: "hint" }, "Đơn vị khác đề nghị dùng phòng họp thuộc đơn vị bạn cho cuộc họp của họ. Phòng chỉ được giữ và được gọi khi đơn vị bạn chấp nhận; từ chối (kể cả sau khi đã chấp nhận) trả phòng lại. Đơn vị tổ chức được báo qua thư."),
      el("div", { className: "filters" }, el("div", { className: "field" }, el("label", { for: "request-filter" }, "Trạng thái"), select)),
      count, list, none);
    await load();
  },
});
