// Meetings as the home page and the calendar show them: one entry of GET /api/occurrences
// as a list item, its details in a dialog, and reading a window of the calendar.
import {
  api, apiAll, el, append, label, mayUse, meetingLinks, formatRange, formatDate, formatTime,
  formatDateTime, iso, report, KIND_LABELS, MODE_LABELS, STATUS_LABELS, BOOKERS,
} from "/static/console/vc.js";

/** Occurrences overlapping [from, to) with `filters` (unit, kind, mode, status, q), by start. */
export async function occurrencesBetween(from, to, filters = {}) {
  const items = await apiAll("/api/occurrences", { from: iso(from), to: iso(to), ...filters }, { limit: 1000, maxPages: 10 });
  return items.sort((a, b) => a.start.localeCompare(b.start) || a.title.localeCompare(b.title, "vi"));
}

export function statusBadge(status) {
  return el("span", { className: "badge " + status, dataset: { status } }, label(STATUS_LABELS, status));
}

/** The links of a meeting's pages that `user` may use. */
export function meetingActions(entry, user) {
  const links = [];
  if (BOOKERS.includes(user.role)) {
    links.push(el("a", { href: meetingLinks.edit(entry.meeting_id) }, "Xem và sửa đặt lịch"));
  }
  if (entry.mode !== "in_person" && user.role !== "leadership") {
    links.push(el("a", { href: meetingLinks.live(entry.meeting_id) }, "Phòng điều hành"));
  }
  links.push(el("a", { href: meetingLinks.attendance(entry.meeting_id) }, "Điểm danh"));
  if (BOOKERS.includes(user.role)) {
    links.push(el("a", { href: meetingLinks.copy(entry.meeting_id) }, "Sao chép"));
  }
  return links;
}

/**
 * One occurrence as an <li>: time, title (a button opening the details), badges, organiser.
 * `withDate`: write the day too (lists spanning days).
 */
export function meetingItem(entry, user, { withDate = false, compact = false } = {}) {
  const zone = user.zone;
  const when = withDate ? formatDate(entry.start, zone) + " · " + formatRange(entry.start, entry.end, zone)
    : formatRange(entry.start, entry.end, zone);
  const open = el("button", {
    type: "button", className: "link-button meeting-title",
    "aria-haspopup": "dialog", on: { click: () => showDetails(entry, user, open) },
  }, entry.title);
  const li = el("li", {
    className: "meeting status-" + entry.status + (entry.cancelled ? " cancelled" : ""),
    dataset: { meetingId: entry.meeting_id, key: entry.key, status: entry.status },
  },
  el("span", { className: "meeting-when" }, when),
  open);
  if (!compact) {
    append(li,
      el("span", { className: "meeting-meta" },
        el("span", { className: "badge" }, label(KIND_LABELS, entry.kind)), " ",
        el("span", { className: "badge" }, label(MODE_LABELS, entry.mode)), " ",
        entry.cancelled ? el("span", { className: "badge cancelled" }, "Đã hủy") : statusBadge(entry.status),
        entry.moved ? el("span", { className: "badge warn" }, "Đã dời lịch") : null,
        " ", entry.organizer_unit_name,
        " · " + entry.site_count + " điểm cầu"));
  }
  return li;
}

/** The details of one occurrence in a modal dialog; focus returns to `opener` on close. */
export async function showDetails(entry, user, opener) {
  const zone = user.zone;
  const close = el("button", { type: "button", className: "secondary" }, "Đóng");
  const body = el("div", { className: "details-body" }, el("p", { className: "muted" }, "Đang tải…"));
  const heading = el("h2", { id: "meeting-dialog-title" }, entry.title);
  const dialog = el("dialog", { className: "vc-dialog meeting-dialog", "aria-labelledby": "meeting-dialog-title" },
    heading, body, el("div", { className: "actions" }, close));
  const finish = () => { dialog.close(); dialog.remove(); if (opener) opener.focus(); };
  close.addEventListener("click", finish);
  dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(); });
  document.body.appendChild(dialog);
  dialog.showModal();
  close.focus();
  const facts = el("dl", { className: "facts" });
  const fact = (term, value) => { if (value) append(facts, el("dt", {}, term), el("dd", {}, value)); };
  fact("Thời gian", formatDate(entry.start, zone) + ", " + formatRange(entry.start, entry.end, zone));
  fact("Loại", label(KIND_LABELS, entry.kind) + " · " + label(MODE_LABELS, entry.mode));
  fact("Trạng thái", entry.cancelled ? "Đã hủy" : label(STATUS_LABELS, entry.status));
  fact("Đơn vị chủ trì", entry.organizer_unit_name);
  fact("Số điểm cầu", String(entry.site_count));
  if (entry.recurring) fact("Lặp lại", entry.moved ? "Có (buổi này đã dời lịch)" : "Có");
  try {
    const meeting = await api("/api/meetings/" + encodeURIComponent(entry.meeting_id));
    fact("Chủ trì", meeting.chair);
    fact("Nội dung", meeting.agenda);
    fact("Người tạo", meeting.created_by);
    fact("Cập nhật", formatDateTime(meeting.updated_at, zone));
  } catch (err) {
    report(err, "Không đọc được cuộc họp");
  }
  body.replaceChildren(facts, el("p", { className: "meeting-links" }, meetingActions(entry, user)));
}

/** How many days of `entries` start on each day key (for month cells and summaries). */
export function byDay(entries, zoneKey) {
  const days = new Map();
  for (const entry of entries) {
    const key = zoneKey(entry.start);
    if (!days.has(key)) days.set(key, []);
    days.get(key).push(entry);
  }
  return days;
}

export { formatTime, mayUse };
