// A meeting's attendance (/meetings/{id}/attendance): the sites table, headcounts, the roster
// and check-ins, and the exports (downloaded with fetch + a blob: the token is a header, not
// a cookie, so a plain link would not carry it).  See docs/console.md#attendance.
import {
  startPage, api, el, append, replace, setText, report, toast, status, focus, label, Problem,
  formatDate, formatRange, formatTime, formatDuration, formatNumber, formatPercent,
  CHANNEL_LABELS, meetingLinks,
} from "/static/console/vc.js";

const meetingId = decodeURIComponent(window.location.pathname.split("/")[2] || "");
const base = "/api/meetings/" + encodeURIComponent(meetingId);
const RECORDERS = ["admin", "secretariat", "operator"];
const ROSTER_KEEPERS = ["admin", "secretariat"];
const ATTENDANCE_LABELS = {
  present: "Có mặt", late: "Đến muộn", left_early: "Về sớm", partial: "Tham dự một phần",
  absent: "Vắng mặt",
};
const STATE_CLASS = { present: "ok", late: "warn", left_early: "warn", partial: "warn", absent: "bad" };
const ALL_CHANNELS = { ...CHANNEL_LABELS, in_person: "Trực tiếp tại phòng" };

let user = null;
let zone = undefined;
let occurrence = null;
let parts = null;

// -- downloads -----------------------------------------------------------------------------

function filenameOf(response, fallback) {
  const header = response.headers.get("Content-Disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1] : fallback;
}

async function download(button, query, fallback) {
  button.disabled = true;
  try {
    const response = await api(base + "/attendance", { query: { ...query, occurrence }, raw: true, accept: "*/*" });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filenameOf(response, fallback), hidden: true });
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 30000);
    toast("Đã tải về " + link.download, "ok");
  } catch (err) {
    report(err, "Không tải về được");
  } finally {
    button.disabled = false;
  }
}

// -- drawing -------------------------------------------------------------------------------

function cell(text, className) { return el("td", { className }, text === null || text === undefined ? "—" : String(text)); }

function sitesTable(report_) {
  const head = el("tr", {}, ...["Điểm cầu", "Đơn vị", "Kết quả", "Hình thức tham dự", "Thời gian kết nối",
    "Vào lúc", "Rời lúc", "Số người", "Đã điểm danh"].map((h, i) => el("th", { scope: "col", className: i >= 7 ? "number" : undefined }, h)));
  const rows = report_.sites.map((site) => el("tr", { dataset: { roomId: site.room_id } },
    el("th", { scope: "row" }, site.room_name),
    cell(site.unit_name),
    el("td", {}, el("span", { className: "badge " + (STATE_CLASS[site.status] || "") }, label(ATTENDANCE_LABELS, site.status))),
    cell(site.channels_label || (site.took_part_via ? label(ALL_CHANNELS, site.took_part_via) : null)),
    cell(site.connected_seconds ? formatDuration(site.connected_seconds) + " (" + formatPercent(site.share, 0) + ")" : null),
    cell(site.first_join ? formatTime(site.first_join, zone) : null),
    cell(site.still_connected ? "Đang kết nối" : site.last_leave ? formatTime(site.last_leave, zone) : null),
    cell(site.headcount, "number"),
    cell(site.checked_in, "number")));
  return el("div", { className: "table-wrap" },
    el("table", { id: "sites-table" }, el("caption", {}, "Điểm cầu"), el("thead", {}, head), el("tbody", {}, rows)));
}

function summary(report_) {
  const s = report_.summary;
  const items = [
    ["Điểm cầu tham dự", s.attended + "/" + s.sites], ["Có mặt", s.present], ["Đến muộn", s.late],
    ["Về sớm", s.left_early], ["Một phần", s.partial], ["Vắng mặt", s.absent],
    ["Số người (đếm tại phòng)", formatNumber(s.headcount)], ["Đã điểm danh", formatNumber(s.checked_in)],
  ];
  return el("dl", { className: "summary" }, ...items.map(([term, value]) =>
    el("div", {}, el("dt", {}, term), el("dd", {}, String(value)))));
}

function headcountForm(report_) {
  const room = el("select", { id: "headcount-room", name: "room_id", required: true },
    ...report_.sites.map((site) => el("option", { value: String(site.room_id) }, site.room_name)));
  const count = el("input", { id: "headcount-count", name: "count", type: "number", min: "0", max: "100000", required: true, inputmode: "numeric" });
  const form = el("form", { className: "filters", "aria-labelledby": "headcount-title" },
    el("div", { className: "field" }, el("label", { for: "headcount-room" }, "Điểm cầu"), room),
    el("div", { className: "field" }, el("label", { for: "headcount-count" }, "Số người"), count),
    el("button", { type: "submit" }, "Lưu số người"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = Number(count.value);
    if (count.value === "" || !Number.isInteger(value) || value < 0) { toast("Hãy nhập số người (0 trở lên).", "error"); count.focus(); return; }
    try {
      await api(base + "/attendance/headcounts", { method: "PUT", body: { room_id: Number(room.value), occurrence, count: value } });
      toast("Đã lưu số người của " + room.selectedOptions[0].textContent, "ok");
      count.value = "";
      await refresh();
    } catch (err) { report(err, "Không lưu được số người"); }
  });
  return el("section", { className: "card", "aria-labelledby": "headcount-title" },
    el("h2", { id: "headcount-title" }, "Số người tại phòng"),
    el("p", { className: "hint" }, "Kỹ thuật viên đếm số người trong phòng họp; số đếm sau cùng được giữ."), form);
}

function rosterSection(report_, roster) {
  const checked = new Set(report_.people.items.map((p) => p.roster_id).filter((id) => id !== null));
  const roomName = new Map(report_.sites.map((s) => [s.room_id, s.room_name]));
  const rows = roster.map((person) => {
    const done = checked.has(person.id);
    const action = RECORDERS.includes(user.role) && !done && person.room_id !== null
      ? el("button", { type: "button", className: "secondary small", "aria-label": "Điểm danh " + person.full_name,
        on: { click: (event) => checkIn(event.currentTarget, person) } }, "Điểm danh")
      : null;
    return el("tr", {},
      el("th", { scope: "row" }, person.full_name), cell(person.position), cell(person.unit_name),
      cell(person.room_id !== null ? roomName.get(person.room_id) || "#" + person.room_id : null),
      el("td", {}, done ? el("span", { className: "badge ok" }, "Đã điểm danh") : el("span", { className: "badge" }, "Chưa điểm danh"), action ? " " : null, action));
  });
  const table = roster.length
    ? el("div", { className: "table-wrap" }, el("table", { id: "roster-table" }, el("caption", {}, "Danh sách dự kiến"),
      el("thead", {}, el("tr", {}, ...["Họ tên", "Chức vụ", "Đơn vị", "Điểm cầu", "Điểm danh"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)))
    : el("p", { className: "empty" }, "Chưa có ai trong danh sách dự kiến.");
  const section = el("section", { className: "card", "aria-labelledby": "roster-title" },
    el("h2", { id: "roster-title" }, "Danh sách dự kiến và điểm danh"),
    el("p", {}, report_.people.checked_in + " người đã điểm danh, " + report_.people.checked_in_from_roster + "/" + report_.people.roster_size + " người trong danh sách."),
    table);
  if (ROSTER_KEEPERS.includes(user.role)) section.appendChild(rosterForm(report_));
  return section;
}

function rosterForm(report_) {
  const name = el("input", { id: "person-name", name: "full_name", required: true, autocomplete: "off" });
  const position = el("input", { id: "person-position", name: "position", autocomplete: "off" });
  const unit = el("input", { id: "person-unit", name: "unit_name", autocomplete: "off" });
  const room = el("select", { id: "person-room", name: "room_id" }, el("option", { value: "" }, "(chưa chọn)"),
    ...report_.sites.map((site) => el("option", { value: String(site.room_id) }, site.room_name)));
  const form = el("form", { className: "filters roster-form", "aria-label": "Thêm người vào danh sách" },
    el("div", { className: "field" }, el("label", { for: "person-name" }, "Họ tên"), name),
    el("div", { className: "field" }, el("label", { for: "person-position" }, "Chức vụ"), position),
    el("div", { className: "field" }, el("label", { for: "person-unit" }, "Đơn vị công tác"), unit),
    el("div", { className: "field" }, el("label", { for: "person-room" }, "Điểm cầu"), room),
    el("button", { type: "submit" }, "Thêm vào danh sách"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!name.value.trim()) { toast("Hãy nhập họ tên.", "error"); name.focus(); return; }
    const person = { full_name: name.value.trim() };
    if (position.value.trim()) person.position = position.value.trim();
    if (unit.value.trim()) person.unit_name = unit.value.trim();
    if (room.value) person.room_id = Number(room.value);
    try {
      await api(base + "/roster", { method: "POST", body: { people: [person] } });
      toast("Đã thêm " + person.full_name, "ok");
      await refresh();
      focus(document.getElementById("person-name"));
    } catch (err) { report(err, "Không thêm được"); }
  });
  return form;
}

async function checkIn(button, person) {
  button.disabled = true;
  try {
    await api(base + "/checkins", { method: "POST", body: { room_id: person.room_id, occurrence, roster_id: person.id } });
    toast("Đã điểm danh " + person.full_name, "ok");
    await refresh();
  } catch (err) { report(err, "Không điểm danh được"); button.disabled = false; }
}

function exportsSection() {
  const xlsx = el("button", { type: "button" }, "Tải về XLSX");
  const csv = el("button", { type: "button", className: "secondary" }, "Tải về CSV (điểm cầu)");
  const people = el("button", { type: "button", className: "secondary" }, "Tải về CSV (người tham dự)");
  xlsx.addEventListener("click", () => download(xlsx, { format: "xlsx" }, "diem-danh.xlsx"));
  csv.addEventListener("click", () => download(csv, { format: "csv" }, "diem-danh.csv"));
  people.addEventListener("click", () => download(people, { format: "csv", table: "people" }, "diem-danh-nguoi.csv"));
  return el("section", { className: "card", "aria-labelledby": "exports-title" },
    el("h2", { id: "exports-title" }, "Xuất dữ liệu"),
    el("p", { className: "hint" }, "Giờ theo múi giờ của cuộc họp; tệp XLSX gồm điểm cầu, người tham dự và thông tin cuộc họp."),
    el("div", { className: "actions" }, xlsx, csv, people));
}

async function refresh() {
  const query = occurrence ? { occurrence } : {};
  const [report_, roster] = await Promise.all([
    api(base + "/attendance", { query }),
    api(base + "/roster").then((r) => r.items).catch((err) => { if (err instanceof Problem && err.status === 403) return []; throw err; }),
  ]);
  occurrence = report_.occurrence;
  zone = report_.timezone || zone;
  setText(parts.title, "Điểm danh — " + report_.title);
  replace(parts.meta,
    formatDate(report_.start, zone) + ", " + formatRange(report_.start, report_.end, zone), " · ", report_.final ? "Kết quả cuối cùng" : el("span", { className: "badge warn" }, "Tạm tính (cuộc họp chưa kết thúc)"));
  replace(parts.summary, summary(report_));
  replace(parts.sites, sitesTable(report_));
  replace(parts.people, rosterSection(report_, roster));
  if (parts.headcount) replace(parts.headcount, headcountForm(report_));
  status("Cập nhật lúc " + formatTime(new Date(), zone, { seconds: true }));
}

startPage({
  page: "attendance",
  title: "Điểm danh",
  render: async (who, root) => {
    user = who;
    zone = who.zone;
    const query = new URLSearchParams(window.location.search);
    occurrence = query.get("occurrence");
    const title = el("h1", {}, "Điểm danh");
    const meta = el("p", { className: "muted" });
    parts = {
      title, meta,
      summary: el("div"),
      sites: el("div"),
      people: el("div"),
      headcount: RECORDERS.includes(who.role) ? el("div") : null,
    };
    append(root, title, meta,
      el("p", { className: "meeting-links" }, el("a", { href: meetingLinks.live(meetingId) }, "Phòng điều hành")),
      el("section", { className: "card", "aria-labelledby": "summary-title" },
        el("h2", { id: "summary-title" }, "Tổng hợp"), parts.summary, parts.sites),
      exportsSection(), parts.headcount, parts.people);
    await refresh();
  },
});
