// Leadership dashboard (/dashboard): the HTML fragment GET /api/stats/dashboard renders on the
// server (chart included, as SVG; built and escaped there) for the chosen year, refreshed every
// minute, and the year's XLSX.  ?year=, ?unit=, ?refresh=<seconds> (at least 10).
// The year selector offers this year and the next (plans are booked ahead), back to the first
// year with data in scope (at least five years back) and on to the last year with a booking.
import {
  startPage, api, status, every, report, formatTime, zoned, Problem,
} from "/static/console/vc.js";

const params = new URLSearchParams(window.location.search);
const UNIT = params.get("unit");
const REFRESH_MS = Math.max(10, Number(params.get("refresh")) || 60) * 1000;
const $ = (id) => document.getElementById(id);
let zone = "Asia/Ho_Chi_Minh";

function query(extra) {
  const values = { ...extra };
  if (UNIT) values.unit = UNIT;
  return values;
}

function fillYears(first, last, wanted) {
  const select = $("year");
  const chosen = Number(select.value) || wanted;
  select.replaceChildren();
  for (let year = last; year >= first; year -= 1) {
    const option = document.createElement("option");
    option.value = String(year);
    option.textContent = String(year);
    if (year === chosen) option.selected = true;
    select.appendChild(option);
  }
}

function yearRange(thisYear, wanted, section) {
  let first = Math.min(thisYear - 5, wanted);
  let last = Math.max(thisYear + 1, wanted);
  if (section) {
    const low = Number(section.dataset.firstYear);
    const high = Number(section.dataset.lastYear);
    if (Number.isInteger(low) && low >= 2000) first = Math.min(first, low);
    if (Number.isInteger(high) && high <= 2200) last = Math.max(last, high);
  }
  return [first, last];
}

async function refresh() {
  const year = $("year").value;
  let response;
  try {
    response = await api("/api/stats/dashboard", { query: query({ year }), accept: "text/html", raw: true });
  } catch (err) {
    if (err instanceof Problem && err.status === 403) {
      $("content").textContent = "Tài khoản của bạn không có quyền xem bảng điều hành này.";
      status("");
      return;
    }
    if (err instanceof Problem && err.status === 0) { status("Mất kết nối tới máy chủ, đang thử lại…"); return; }
    throw err;
  }
  // The fragment is built and escaped by the server; nothing else is inserted as markup.
  const template = document.createElement("template");
  template.innerHTML = await response.text();
  $("content").replaceChildren(template.content);
  const section = $("content").querySelector(".stats");
  const thisYear = zoned(new Date(), zone).year;
  const [first, last] = yearRange(thisYear, Number(year), section);
  fillYears(first, last, Number(year));
  status("Cập nhật lúc " + formatTime(new Date(), zone, { seconds: true }));
  document.body.dataset.loaded = String(Date.now());
}

async function download() {
  const year = $("year").value;
  const button = $("download");
  button.disabled = true;
  try {
    const response = await api("/api/stats/online-share", {
      query: query({ from: year + "-01-01", to: year + "-12-31", group_by: "province", format: "xlsx" }),
      accept: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      raw: true,
    });
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = "ty-le-hop-truc-tuyen-" + year + ".xlsx";
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) {
    report(err, "Không tải được bảng tính");
  } finally {
    button.disabled = false;
  }
}

$("year").addEventListener("change", () => refresh().catch((err) => report(err)));
$("download").addEventListener("click", download);

startPage({
  page: "dashboard",
  title: "Tỷ lệ cuộc họp trực tuyến",
  keep: true,
  render: async (user) => {
    zone = user.zone;
    const thisYear = zoned(new Date(), zone).year;
    const asked = Number(params.get("year"));
    const wanted = Number.isInteger(asked) && asked >= 2000 && asked <= 2200 ? asked : thisYear;
    if (!$("year").value) {
      const [first, last] = yearRange(thisYear, wanted, null);
      fillYears(first, last, wanted);
    }
    await refresh();
    every(REFRESH_MS, refresh);
  },
});
