// Leadership dashboard: log in (OAuth2 password grant), then insert the HTML fragment that
// GET /api/stats/dashboard renders on the server (chart included, as SVG).  The fragment
// is built and escaped by the server; the page's Content-Security-Policy runs no script but
// this file.  The token lives in sessionStorage: closing the tab logs out.
"use strict";

(function () {
  const TOKEN_KEY = "vcorch.dashboard.token";
  const params = new URLSearchParams(window.location.search);
  const UNIT = params.get("unit");
  const REFRESH_MS = Math.max(10, Number(params.get("refresh")) || 60) * 1000;
  const ZONE = "Asia/Ho_Chi_Minh";
  const $ = (id) => document.getElementById(id);
  const timeFormat = new Intl.DateTimeFormat("vi-VN", {
    timeZone: ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  let timer = null;

  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }
  function setStatus(text) { $("status").textContent = text; }

  function showLogin(message) {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    window.sessionStorage.removeItem(TOKEN_KEY);
    $("dashboard").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setStatus("");
    document.body.dataset.view = "login";
  }

  function showDashboard() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("logout").hidden = false;
    document.body.dataset.view = "dashboard";
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
        showDashboard();
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

  async function api(path, accept) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + token(), Accept: accept },
    });
    if (response.status === 401) {
      const expired = new Error("expired");
      expired.expired = true;
      throw expired;
    }
    return response;
  }

  function query(extra) {
    const values = new URLSearchParams(extra || {});
    if (UNIT) values.set("unit", UNIT);
    return values.toString();
  }

  async function refresh() {
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    if (!token()) { showLogin(); return; }
    try {
      const year = $("year").value;
      const response = await api("/api/stats/dashboard?" + query({ year }), "text/html");
      if (response.status === 403) {
        $("content").textContent = "Tài khoản của bạn không có quyền xem bảng điều hành này.";
        setStatus("");
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      $("content").replaceChildren(template.content);
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

  async function download() {
    const year = $("year").value;
    const button = $("download");
    button.disabled = true;
    try {
      const response = await api(
        "/api/stats/online-share?" +
          query({ from: year + "-01-01", to: year + "-12-31", group_by: "province", format: "xlsx" }),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      );
      if (!response.ok) throw new Error("HTTP " + response.status);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = "ty-le-hop-truc-tuyen-" + year + ".xlsx";
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      if (err && err.expired) { showLogin("Phiên đăng nhập đã hết hạn, vui lòng đăng nhập lại."); return; }
      setStatus("Không tải được bảng tính.");
    } finally {
      button.disabled = false;
    }
  }

  function fillYears() {
    const select = $("year");
    const thisYear = Number(new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric" })
      .format(new Date()));
    const asked = Number(params.get("year"));
    const wanted = Number.isInteger(asked) && asked >= 2000 && asked <= 2200 ? asked : thisYear;
    const years = new Set([wanted]);
    for (let year = thisYear; year >= thisYear - 5; year -= 1) years.add(year);
    for (const year of [...years].sort((a, b) => b - a)) {
      const option = document.createElement("option");
      option.value = String(year);
      option.textContent = String(year);
      if (year === wanted) option.selected = true;
      select.appendChild(option);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    fillYears();
    $("login").addEventListener("submit", login);
    $("logout").addEventListener("click", () => showLogin());
    $("year").addEventListener("change", refresh);
    $("download").addEventListener("click", download);
    if (token()) showDashboard(); else showLogin();
  });
})();
