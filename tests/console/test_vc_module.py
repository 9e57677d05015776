"""vc.js itself, in the browser: Vietnamese dates and numbers, problems, probe details."""

from __future__ import annotations

from typing import Any

from tests.console.conftest import SignedIn

CHECKS = """async () => {
  const vc = await import('/static/console/vc.js');
  const out = {};
  const monday = new Date('2026-12-07T01:30:00Z');
  out.date = vc.formatDate(monday);
  out.time = vc.formatTime(new Date('2026-12-07T13:05:00Z'));
  out.dateTime = vc.formatDateTime(monday);
  out.range = vc.formatRange(monday, new Date('2026-12-07T03:00:00Z'));
  out.elsewhere = vc.formatTime(monday, 'Europe/Paris');
  out.duration = [vc.formatDuration(5400), vc.formatDuration(45), vc.formatDuration(90000)];
  out.number = vc.formatNumber(1234567);
  out.percent = vc.formatPercent(0.305);
  out.midnight = vc.dayStart('2026-12-07').toISOString();
  out.nextDay = vc.dayKey(vc.dayStart('2026-12-31', undefined, 1));
  out.probe = [vc.describeProbe('refused'), vc.describeProbe('timeout after 2 s'),
               vc.describeProbe('something new')];
  const problem = async (path, options) => {
    try { await vc.api(path, options); return null; } catch (err) {
      return { name: err.name, status: err.status, title: err.title, slug: err.slug,
               errors: err.errors, summary: err.summary };
    }
  };
  out.notFound = await problem('/api/meetings/999999');
  out.invalid = await problem('/api/meetings', { query: { limit: 0 } });
  out.forbidden = await problem('/api/users');
  const node = vc.el('p', { className: 'x', dataset: { id: 7 } }, '<b>không phải HTML</b>', 3);
  out.text = [node.textContent, node.children.length, node.dataset.id];
  return out;
}"""


async def test_the_shared_module_speaks_vietnamese(signed_in: SignedIn) -> None:
    page = await signed_in("secretariat")
    out: dict[str, Any] = await page.evaluate(CHECKS)
    assert out["date"] == "Thứ Hai, 07/12/2026"
    assert out["time"] == "20:05"  # 24 h, Hà Nội
    assert out["dateTime"] == "08:30 Thứ Hai, 07/12/2026"
    assert out["range"] == "08:30–10:00"
    assert out["elsewhere"] == "02:30"
    assert out["duration"] == ["1 giờ 30 phút", "45 giây", "1 ngày 1 giờ"]
    assert out["number"] == "1.234.567"
    assert out["percent"] == "30,5 %"
    assert out["midnight"] == "2026-12-06T17:00:00.000Z"
    assert out["nextDay"] == "2027-01-01"
    assert out["probe"] == [
        "thiết bị từ chối kết nối",
        "không trả lời sau 2 giây",
        "lỗi kỹ thuật: something new",
    ]
    assert out["notFound"]["name"] == "Problem" and out["notFound"]["status"] == 404
    assert out["notFound"]["title"] == "Không tìm thấy."
    invalid = out["invalid"]
    assert invalid["status"] == 422 and invalid["title"] == "Dữ liệu chưa hợp lệ."
    assert invalid["errors"][0]["field"] == "limit"
    assert invalid["errors"][0]["message"] == "phải từ 1 trở lên"
    assert out["forbidden"]["title"] == "Bạn không có quyền làm việc này."
    assert out["text"] == ["<b>không phải HTML</b>3", 0, "7"]
