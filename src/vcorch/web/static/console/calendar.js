// Calendar (/calendar): week, month and list views of the meetings in the user's scope, with
// filters (unit subtree, kind, mode, status, text), in the unit's zone.  The view, the day and
// the filters live in the address (?view=month&date=2026-12-07&unit=3...), so a reload or a
// shared link shows the same.
import {
  startPage, apiAll, el, append, replace, status, focus, report, dayKey, dayStart, zoned,
  formatDate, formatShortDate, KIND_LABELS, MODE_LABELS, STATUS_LABELS, WEEKDAY_SHORT,
} from "/static/console/vc.js";
import { occurrencesBetween, meetingItem, byDay } from "/static/console/meetings.js";

const VIEWS = { week: "Tuần", month: "Tháng", list: "Danh sách" };
const LIST_DAYS = 30;
const MONTH_SHOWN = 3;

function readState(zone) {
  const params = new URLSearchParams(window.location.search);
  const view = Object.hasOwn(VIEWS, params.get("view")) ? params.get("view") : "week";
  const date = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : dayKey(new Date(), zone);
  const filters = {};
  for (const name of ["unit", "kind", "mode", "status", "q"]) {
    const value = params.get(name);
    if (value) filters[name] = value;
  }
  return { view, date, filters };
}

function writeState(state) {
  const params = new URLSearchParams({ view: state.view, date: state.date });
  for (const [name, value] of Object.entries(state.filters)) if (value) params.set(name, value);
  window.history.replaceState(null, "", "/calendar?" + params.toString());
}

/** Monday of the week holding day `key`. */
function mondayOf(key, zone) {
  const weekday = zoned(dayStart(key, zone), zone).weekday;
  return dayKey(dayStart(key, zone, -((weekday + 6) % 7)), zone);
}

function shiftKey(key, zone, days) { return dayKey(dayStart(key, zone, days), zone); }

function windowOf(state, zone) {
  if (state.view === "week") {
    const first = mondayOf(state.date, zone);
    return { first, days: 7 };
  }
  if (state.view === "month") {
    const [y, m] = state.date.split("-").map(Number);
    const firstOfMonth = y + "-" + String(m).padStart(2, "0") + "-01";
    const first = mondayOf(firstOfMonth, zone);
    const nextMonth = m === 12 ? (y + 1) + "-01-01" : y + "-" + String(m + 1).padStart(2, "0") + "-01";
    let days = 0;
    while (shiftKey(first, zone, days) < nextMonth || days % 7 !== 0) days += 1;
    return { first, days, month: m, year: y };
  }
  return { first: state.date, days: LIST_DAYS };
}

function rangeTitle(state, win, zone) {
  const last = shiftKey(win.first, zone, win.days - 1);
  if (state.view === "month") return "Tháng " + win.month + "/" + win.year;
  const from = dayStart(win.first, zone);
  const to = dayStart(last, zone);
  return (state.view === "week" ? "Tuần " : "") + formatShortDate(from, zone) + " – " + formatShortDate(to, zone);
}

function selectField(id, text, options, value) {
  const select = el("select", { id, name: id });
  select.appendChild(el("option", { value: "" }, "Tất cả"));
  for (const [optionValue, optionText] of options) {
    select.appendChild(el("option", { value: optionValue, selected: String(optionValue) === String(value || "") }, optionText));
  }
  return el("div", { className: "field" }, el("label", { for: id }, text), select);
}

/** The units of the user's scope as a tree: each under its parent, "— " per level. */
function unitOptions(units, rootId) {
  const children = new Map();
  for (const unit of units) {
    if (!children.has(unit.parent_id)) children.set(unit.parent_id, []);
    children.get(unit.parent_id).push(unit);
  }
  for (const list of children.values()) list.sort((a, b) => a.name.localeCompare(b.name, "vi"));
  const byId = new Map(units.map((u) => [u.id, u]));
  const roots = units.filter((u) => u.id === rootId || !byId.has(u.parent_id));
  const out = [];
  const walk = (unit, depth) => {
    out.push([unit.id, "— ".repeat(depth) + unit.name]);
    for (const child of children.get(unit.id) || []) walk(child, depth + 1);
  };
  for (const root of roots) walk(root, 0);
  return out;
}

startPage({
  page: "calendar",
  title: "Lịch họp",
  render: async (user, root) => {
    const zone = user.zone;
    const state = readState(zone);
    let units = [];
    try { units = await apiAll("/api/units", {}, { limit: 500, maxPages: 10 }); } catch (err) { report(err, "Không đọc được danh sách đơn vị"); }

    const heading = el("h1", { id: "calendar-title" }, "Lịch họp");
    const range = el("h2", { id: "calendar-range", className: "range", "aria-live": "polite" });
    const viewButtons = Object.entries(VIEWS).map(([view, text]) => el("button", {
      type: "button", className: "secondary", dataset: { view }, "aria-pressed": String(view === state.view),
      on: { click: () => { state.view = view; draw(); } },
    }, text));
    const step = (direction) => {
      const win = windowOf(state, zone);
      if (state.view === "month") {
        const [y, m] = state.date.split("-").map(Number);
        const moved = new Date(Date.UTC(y, m - 1 + direction, 1));
        state.date = moved.getUTCFullYear() + "-" + String(moved.getUTCMonth() + 1).padStart(2, "0") + "-01";
      } else {
        state.date = shiftKey(win.first, zone, direction * win.days);
      }
      draw();
    };
    const nav = el("div", { className: "calendar-nav actions", role: "group", "aria-label": "Chọn khoảng thời gian" },
      el("button", { type: "button", className: "secondary", on: { click: () => step(-1) } }, "‹ Trước"),
      el("button", { type: "button", className: "secondary", on: { click: () => { state.date = dayKey(new Date(), zone); draw(); } } }, "Hôm nay"),
      el("button", { type: "button", className: "secondary", on: { click: () => step(1) } }, "Sau ›"));
    const views = el("div", { className: "calendar-views actions", role: "group", "aria-label": "Cách xem" }, viewButtons);

    const q = el("input", { id: "q", name: "q", type: "search", value: state.filters.q || "", placeholder: "Tên, chủ trì, nội dung" });
    const filters = el("form", { className: "filters card", role: "search", "aria-label": "Lọc cuộc họp" },
      selectField("unit", "Đơn vị (cả cấp dưới)", unitOptions(units, user.unit_id), state.filters.unit),
      selectField("kind", "Loại", Object.entries(KIND_LABELS), state.filters.kind),
      selectField("mode", "Hình thức", Object.entries(MODE_LABELS), state.filters.mode),
      selectField("status", "Trạng thái", Object.entries(STATUS_LABELS), state.filters.status),
      el("div", { className: "field" }, el("label", { for: "q" }, "Tìm"), q),
      el("button", { type: "submit" }, "Lọc"));
    const readFilters = () => {
      const form = new FormData(filters);
      state.filters = {};
      for (const name of ["unit", "kind", "mode", "status", "q"]) {
        const value = String(form.get(name) || "").trim();
        if (value) state.filters[name] = value;
      }
    };
    filters.addEventListener("change", (event) => { if (event.target !== q) { readFilters(); draw(); } });
    filters.addEventListener("submit", (event) => { event.preventDefault(); readFilters(); draw(); });

    const body = el("div", { id: "calendar-body", className: "calendar-body" });
    append(root, heading, el("div", { className: "calendar-bar" }, nav, views), range, filters, body);

    let drawing = 0;
    async function draw() {
      const mine = ++drawing;
      writeState(state);
      for (const button of viewButtons) button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
      const win = windowOf(state, zone);
      range.textContent = rangeTitle(state, win, zone);
      document.body.dataset.calendarView = state.view;
      status("Đang tải lịch…");
      let entries;
      try {
        entries = await occurrencesBetween(dayStart(win.first, zone), dayStart(win.first, zone, win.days), state.filters);
      } catch (err) {
        report(err, "Không đọc được lịch");
        status("");
        return;
      }
      if (mine !== drawing) return;
      const days = byDay(entries, (value) => dayKey(value, zone));
      if (state.view === "month") drawMonth(body, win, days, user, state);
      else if (state.view === "week") drawWeek(body, win, days, user);
      else drawList(body, win, days, user);
      status(entries.length ? entries.length + " buổi họp." : "Không có cuộc họp nào trong khoảng này.");
      document.body.dataset.ready = String(Date.now());
    }
    await draw();
    focus(heading);
  },
});

function dayHeading(key, zone, tag = "h3") {
  const today = key === dayKey(new Date(), zone);
  return el(tag, { className: "day-name" + (today ? " today" : "") },
    formatDate(dayStart(key, zone), zone), today ? el("span", { className: "badge live" }, "Hôm nay") : null);
}

function drawWeek(body, win, days, user) {
  const zone = user.zone;
  const grid = el("div", { className: "week-grid" });
  for (let i = 0; i < win.days; i += 1) {
    const key = shiftKey(win.first, zone, i);
    const list = el("ul", { className: "meetings" });
    for (const entry of days.get(key) || []) list.appendChild(meetingItem(entry, user, { compact: false }));
    const day = el("section", { className: "day card", dataset: { day: key }, "aria-label": formatDate(dayStart(key, zone), zone) },
      dayHeading(key, zone),
      list.childElementCount ? list : el("p", { className: "empty" }, "Không có cuộc họp."));
    grid.appendChild(day);
  }
  replace(body, grid);
}

function drawMonth(body, win, days, user, state) {
  const zone = user.zone;
  const table = el("div", { className: "month-grid", role: "list", "aria-label": "Các ngày trong tháng" });
  for (const name of [1, 2, 3, 4, 5, 6, 0]) {
    table.appendChild(el("div", { className: "weekday", "aria-hidden": "true" }, WEEKDAY_SHORT[name]));
  }
  const month = Number(state.date.split("-")[1]);
  for (let i = 0; i < win.days; i += 1) {
    const key = shiftKey(win.first, zone, i);
    const entries = days.get(key) || [];
    const inMonth = Number(key.split("-")[1]) === month;
    const today = key === dayKey(new Date(), zone);
    const cell = el("div", {
      role: "listitem",
      className: "month-day" + (inMonth ? "" : " other-month") + (entries.length ? "" : " no-meetings") + (today ? " today" : ""),
      dataset: { day: key, count: entries.length },
    });
    const number = el("button", {
      type: "button", className: "link-button day-number",
      "aria-label": formatDate(dayStart(key, zone), zone) + (entries.length ? ": " + entries.length + " cuộc họp" : ""),
      on: { click: () => { state.date = key; state.view = "list"; document.querySelector(".calendar-views [data-view=list]").click(); } },
    }, String(Number(key.split("-")[2])));
    cell.appendChild(number);
    const list = el("ul", { className: "meetings compact" });
    for (const entry of entries.slice(0, MONTH_SHOWN)) list.appendChild(meetingItem(entry, user, { compact: true }));
    if (entries.length) cell.appendChild(list);
    if (entries.length > MONTH_SHOWN) cell.appendChild(el("p", { className: "more" }, "+" + (entries.length - MONTH_SHOWN) + " cuộc họp nữa"));
    table.appendChild(cell);
  }
  replace(body, table);
}

function drawList(body, win, days, user) {
  const zone = user.zone;
  const out = el("div", { className: "day-list" });
  for (let i = 0; i < win.days; i += 1) {
    const key = shiftKey(win.first, zone, i);
    const entries = days.get(key);
    if (!entries) continue;
    const list = el("ul", { className: "meetings" });
    for (const entry of entries) list.appendChild(meetingItem(entry, user));
    out.appendChild(el("section", { className: "day card", dataset: { day: key } }, dayHeading(key, zone), list));
  }
  if (!out.childElementCount) out.appendChild(el("p", { className: "empty" }, "Không có cuộc họp nào trong " + LIST_DAYS + " ngày này."));
  replace(body, out);
}
