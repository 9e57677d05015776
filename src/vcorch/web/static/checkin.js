// Self check-in page: read the signed link's meeting, take name, unit and position, and
// check in through the JSON API.  With "#qr" in the address it shows the link's QR code
// instead (for a screen at the site).  Plain script, no build step; talks only to this origin.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  const api = "/api/checkin/" + encodeURIComponent(token);

  const PROBLEMS = {
    "checkin-link-expired": "Đường dẫn điểm danh đã hết hạn. Hãy xin cán bộ điểm cầu mã mới.",
    "checkin-link-invalid": "Đường dẫn điểm danh không hợp lệ (bị sửa hoặc không do hệ thống cấp).",
    "not-found": "Cuộc họp này không còn nhận điểm danh (đã hủy hoặc không tồn tại).",
    "conflict": "Chưa thể điểm danh lúc này.",
    "validation-error": "Thông tin chưa hợp lệ: hãy kiểm tra lại họ và tên.",
  };

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function problem(id, text) {
    const node = $(id);
    node.textContent = text;
    node.hidden = false;
  }

  async function readProblem(response) {
    try {
      const body = await response.json();
      const slug = String(body.type || "").split(":").pop(); // urn:vcorch:problem:<slug>
      const fields = (body.errors || []).map((e) => e.message).join("; ");
      return (PROBLEMS[slug] || body.detail || "Có lỗi xảy ra.") + (fields ? " (" + fields + ")" : "");
    } catch (err) {
      return "Máy chủ đang bận, hãy thử lại sau ít phút.";
    }
  }

  function localTime(iso, zone) {
    try {
      return new Date(iso).toLocaleString("vi-VN", { timeZone: zone, dateStyle: "short", timeStyle: "short" });
    } catch (err) {
      return iso;
    }
  }

  async function load() {
    let response;
    try {
      response = await fetch(api, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (err) {
      problem("problem", "Không kết nối được máy chủ. Hãy kiểm tra mạng rồi tải lại trang.");
      $("meeting").textContent = "Điểm danh";
      return;
    }
    if (!response.ok) {
      problem("problem", await readProblem(response));
      $("meeting").textContent = "Điểm danh";
      return;
    }
    const info = await response.json();
    $("meeting").textContent = info.title;
    $("when").textContent = localTime(info.start, info.timezone) + " – " + localTime(info.end, info.timezone) + " (" + info.timezone + ")";
    $("site").textContent = info.room_name ? "Điểm cầu: " + info.room_name : "";
    if (location.hash === "#qr") {
      document.body.classList.add("screen");
      $("qr-image").src = api + "/qr.svg";
      show("qr", true);
      return;
    }
    show("form", true);
    $("full_name").focus();
  }

  async function submit(event) {
    event.preventDefault();
    show("form-problem", false);
    const body = {
      full_name: $("full_name").value.trim(),
      unit_name: $("unit_name").value.trim() || null,
      position: $("position").value.trim() || null,
    };
    if (!body.full_name) {
      problem("form-problem", "Hãy nhập họ và tên.");
      return;
    }
    $("submit").disabled = true;
    let response;
    try {
      response = await fetch(api, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (err) {
      $("submit").disabled = false;
      problem("form-problem", "Không gửi được. Hãy kiểm tra mạng rồi bấm lại.");
      return;
    }
    if (!response.ok) {
      $("submit").disabled = false;
      problem("form-problem", await readProblem(response));
      return;
    }
    const done = await response.json();
    show("form", false);
    $("done-text").textContent = done.already
      ? done.full_name + " đã điểm danh trước đó."
      : done.full_name + " đã được ghi nhận có mặt.";
    show("done", true);
  }

  $("form").addEventListener("submit", submit);
  load();
})();
