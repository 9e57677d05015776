// Home (/): after sign-in each role sees its work: what needs attention (pending site
// requests, meetings that failed or were missed, endpoints down near a meeting, meetings
// running now), today's and this week's meetings in scope, and the pages it may use.
import {
  startPage, api, apiAll, el, append, status, report, mayUse, label, dayKey, dayStart, zoned,
  formatDate, formatDateTime, formatTime, formatPercent, formatNumber, meetingLinks, PAGES,
  ROLE_LABELS, HEALTH_LABELS, BOOKERS, Problem,
} from "/static/console/vc.js";
import { occurrencesBetween, meetingItem, byDay } from "/static/console/meetings.js";

const PAGE_TEXT = {
  home: "Trang này.",
  calendar: "Lịch họp theo tuần, tháng hoặc danh sách, có bộ lọc.",
  booking: "Đặt lịch họp mới, chọn điểm cầu, lặp lại.",
  "site-groups": "Các nhóm điểm cầu hay dùng.",
  "site-requests": "Đơn vị khác xin dùng phòng họp của bạn.",
  board: "Tình trạng thiết bị và cuộc họp sắp tới của mỗi phòng.",
  dashboard: "Tỷ lệ cuộc họp trực tuyến so với chỉ tiêu 30 %.",
  "api-docs": "Tài liệu giao diện lập trình (API).",
};
const STAFF_HEALTH = ["admin", "secretariat", "operator", "leadership"];

function section(id, title, ...children) {
  return el("section", { className: "card", id, "aria-labelledby": id + "-title" },
    el("h2", { id: id + "-title" }, title), ...children);
}

async function attention(user, now) {
  const items = [];
  const zone = user.zone;
  const tasks = [];
  if (BOOKERS.includes(user.role)) {
    tasks.push(api("/api/site-requests", { query: { status: "pending", limit: 50 } }).then((page) => {
      const requests = page.items || [];
      if (!requests.length) return;
      const li = el("li", { className: "attention requests", dataset: { kind: "site-requests", count: requests.length } },
        el("a", { href: "/site-requests" }, requests.length + (page.next ? "+" : "") + " yêu cầu điểm cầu đang chờ bạn duyệt"));
      const list = el("ul", { className: "small" });
      for (const request of requests.slice(0, 5)) {
        list.appendChild(el("li", {}, request.room_name + " — " + request.meeting_title +
          (request.start ? " (" + formatDateTime(request.start, zone) + ")" : "")));
      }
      li.appendChild(list);
      items.push([0, li]);
    }));
  }
  // Meetings of the last 7 days that failed or were missed; meetings running now.
  tasks.push(occurrencesBetween(dayStart(dayKey(now, zone), zone, -7), new Date(now.getTime() + 60000), {}).then((entries) => {
    for (const entry of entries) {
      if (entry.cancelled) continue;
      if (entry.status === "failed" || entry.status === "missed") {
        const li = el("li", { className: "attention bad", dataset: { kind: "failed", meetingId: entry.meeting_id } },
          el("span", { className: "badge " + entry.status }, entry.status === "failed" ? "Không chạy được" : "Bị lỡ"), " ",
          entry.title + " — " + formatDateTime(entry.start, zone) + " ",
          user.role !== "leadership" ? el("a", { href: meetingLinks.live(entry.meeting_id) }, "Xem phòng điều hành") : null);
        items.push([1, li]);
      } else if (entry.status === "live" && new Date(entry.end) > now) {
        const li = el("li", { className: "attention live", dataset: { kind: "live", meetingId: entry.meeting_id } },
          el("span", { className: "badge live" }, "Đang diễn ra"), " ", entry.title + " ",
          user.role !== "leadership" ? el("a", { href: meetingLinks.live(entry.meeting_id) }, "Vào phòng điều hành") : null);
        items.push([2, li]);
      }
    }
  }));
  if (STAFF_HEALTH.includes(user.role) && user.role !== "leadership") {
    tasks.push(Promise.all([
      apiAll("/api/health/endpoints", {}, { limit: 1000, maxPages: 10 }),
      apiAll("/api/health/meetings", {}, { limit: 1000, maxPages: 10 }),
    ]).then(([endpoints, meetings]) => {
      const next = new Map(meetings.map((m) => [m.endpoint_id, m]));
      for (const endpoint of endpoints) {
        const meeting = next.get(endpoint.endpoint_id);
        if (endpoint.state !== "down" || !meeting) continue;
        const when = meeting.running ? "đang họp" : "họp lúc " + formatTime(meeting.start, zone) + " " + formatDate(meeting.start, zone);
        const li = el("li", { className: "attention bad", dataset: { kind: "endpoint-down", endpointId: endpoint.endpoint_id } },
          el("span", { className: "badge down" }, label(HEALTH_LABELS, "down")), " ",
          endpoint.name + " (" + endpoint.room_name + ", " + endpoint.unit_name + ") — " + when + ": " + meeting.title + " ",
          el("a", { href: "/board" }, "Xem bảng thiết bị"));
        items.push([1, li]);
      }
    }));
  }
  const results = await Promise.allSettled(tasks);
  for (const result of results) {
    if (result.status === "rejected") report(result.reason, "Không đọc được một phần việc cần chú ý");
  }
  items.sort((a, b) => a[0] - b[0]);
  return items.map(([, li]) => li);
}

async function onlineShare(user, now) {
  if (!["admin", "leadership", "secretariat"].includes(user.role)) return null;
  const year = zoned(now, user.zone).year;
  const today = dayKey(now, user.zone);
  try {
    const share = await api("/api/stats/online-share", { query: { from: year + "-01-01", to: today, group_by: "year" } });
    const total = share.total;
    const text = total.held
      ? "Năm " + year + ": " + formatNumber(total.verified_online) + "/" + formatNumber(total.held) +
        " cuộc họp đã họp trực tuyến (" + formatPercent(total.share) + "), chỉ tiêu " + formatPercent(share.target, 0) + "."
      : "Năm " + year + ": chưa có cuộc họp nào đã họp.";
    return section("share", "Tỷ lệ họp trực tuyến", el("p", { id: "share-figure" }, text),
      mayUse(user, "dashboard") ? el("p", {}, el("a", { href: "/dashboard" }, "Xem bảng điều hành")) : null);
  } catch (err) {
    if (!(err instanceof Problem && err.status === 403)) report(err, "Không đọc được tỷ lệ trực tuyến");
    return null;
  }
}

startPage({
  page: "home",
  title: "Trang chủ",
  render: async (user, root) => {
    const zone = user.zone;
    const now = new Date();
    const todayKey = dayKey(now, zone);
    const weekday = zoned(now, zone).weekday;
    const monday = dayKey(dayStart(todayKey, zone, -((weekday + 6) % 7)), zone);
    append(root,
      el("h1", {}, "Xin chào, " + user.name),
      el("p", { className: "muted", id: "home-who" },
        label(ROLE_LABELS, user.role) + (user.unit ? " · " + user.unit.name : "") + " · " + formatDate(now, zone)));
    status("Đang tải…");

    const [entries, attentionItems, share] = await Promise.all([
      occurrencesBetween(dayStart(monday, zone), dayStart(monday, zone, 7), {}).catch((err) => { report(err, "Không đọc được lịch"); return []; }),
      attention(user, now),
      onlineShare(user, now),
    ]);

    const attentionList = el("ul", { className: "attention-list" }, attentionItems);
    const attentionSection = section("attention", "Cần chú ý",
      attentionItems.length ? attentionList : el("p", { className: "empty" }, "Không có việc gì cần chú ý."));

    const days = byDay(entries, (value) => dayKey(value, zone));
    const today = days.get(todayKey) || [];
    const todayList = el("ul", { className: "meetings" }, today.map((e) => meetingItem(e, user)));
    const todaySection = section("today", "Hôm nay",
      today.length ? todayList : el("p", { className: "empty" }, "Hôm nay không có cuộc họp nào."));

    const week = el("div", { className: "week-list" });
    for (let i = 0; i < 7; i += 1) {
      const key = dayKey(dayStart(monday, zone, i), zone);
      if (key === todayKey || !days.has(key)) continue;
      append(week, el("h3", {}, formatDate(dayStart(key, zone), zone)),
        el("ul", { className: "meetings", dataset: { day: key } }, days.get(key).map((e) => meetingItem(e, user))));
    }
    const weekSection = section("week", "Tuần này",
      week.childElementCount ? week : el("p", { className: "empty" }, "Không có cuộc họp nào khác trong tuần."),
      el("p", {}, el("a", { href: "/calendar" }, "Mở lịch họp")));

    const pages = el("ul", { className: "page-links" });
    for (const page of PAGES) {
      if (page.id === "home" || !page.roles.includes(user.role)) continue;
      pages.appendChild(el("li", {}, el("a", { href: page.href }, page.label), " — ", PAGE_TEXT[page.id] || ""));
    }
    const pagesSection = section("pages", "Các trang", pages);

    const order = user.role === "leadership"
      ? [share, todaySection, weekSection, attentionSection, pagesSection]
      : [attentionSection, todaySection, weekSection, share, pagesSection];
    append(root, el("div", { className: "grid two home-grid" }, order.filter(Boolean)));
    status("Cập nhật lúc " + formatTime(new Date(), zone, { seconds: true }));
  },
});
