"""The leadership dashboard, rendered here as an HTML fragment with an inline SVG chart.

No front-end build and no script in the fragment: the page (web/templates/dashboard.html)
logs in and inserts what ``GET /api/stats/dashboard`` returns.  Every text from the
database goes through :func:`html.escape`; the SVG uses presentation attributes only, since
the pages' Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from vcorch.stats import rules, schemas
from vcorch.stats.service import Dashboard

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 20, 40


def percent(value: float | None, digits: int = 1) -> str:
    """Vietnamese notation: 27,3%."""
    if value is None:
        return "—"
    text = f"{value * 100:.{digits}f}".replace(".", ",")
    if "," in text:
        text = text.rstrip("0").rstrip(",")
    return f"{text}%"


def number(value: int | float) -> str:
    """Thousands with a dot, as written in Vietnam: 1.234."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{int(value):,}".replace(",", ".")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _scale_top(groups: Sequence[schemas.Group], target: float) -> float:
    highest = max([target * 1.5, *(g.share for g in groups), *(g.share_declared for g in groups)])
    steps = 10
    return min(1.0, max(0.1, -(-highest * steps // 1) / steps))


def chart(groups: Sequence[schemas.Group], target: float, year: int) -> str:
    """Bars: verified share per month (green at or above target, amber below); dots: the
    declared share; dashed line: the target."""
    top = _scale_top(groups, target)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(groups))

    def y(value: float) -> float:
        return TOP + plot_h * (1 - min(value, top) / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}"'
        ' preserveAspectRatio="xMinYMin meet" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">Tỷ lệ cuộc họp trực tuyến theo tháng năm {year},'
        f" so với mục tiêu {percent(target)}</title>",
    ]
    ticks = 5
    for index in range(ticks + 1):
        value = top * index / ticks
        level = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level:.1f}" y2="{level:.1f}"'
            ' stroke="#d9dee3" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{level + 4:.1f}" text-anchor="end" font-size="11"'
            f' fill="#4a5560">{percent(value, 0)}</text>'
        )
    for index, group in enumerate(groups):
        centre = LEFT + slot * (index + 0.5)
        bar_w = slot * 0.56
        month = group.key.split("-")[1].lstrip("0") if group.key else "?"
        parts.append(
            f'<text x="{centre:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle"'
            f' font-size="11" fill="#4a5560">T{_e(month)}</text>'
        )
        if group.held == 0:
            continue
        colour = "#2e7d32" if group.met else "#e0a100"
        height = TOP + plot_h - y(group.share)
        parts.append(
            f'<rect class="month-bar" data-month="{_e(group.key)}" x="{centre - bar_w / 2:.1f}"'
            f' y="{y(group.share):.1f}" width="{bar_w:.1f}" height="{max(height, 0):.1f}"'
            f' fill="{colour}"><title>{_e(group.label)}: {percent(group.share)} đã xác minh'
            f" ({number(group.verified_online)}/{number(group.held)}),"
            f" {percent(group.share_declared)} theo đăng ký</title></rect>"
        )
        parts.append(
            f'<text x="{centre:.1f}" y="{y(group.share) - 4:.1f}" text-anchor="middle"'
            f' font-size="10" fill="#1f2a33">{percent(group.share, 0)}</text>'
        )
        parts.append(
            f'<circle cx="{centre:.1f}" cy="{y(group.share_declared):.1f}" r="3.5"'
            ' fill="#ffffff" stroke="#1565c0" stroke-width="2"/>'
        )
    target_y = y(target)
    parts.append(
        f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{target_y:.1f}"'
        f' y2="{target_y:.1f}" stroke="#c62828" stroke-width="2" stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<text x="{WIDTH - RIGHT}" y="{target_y - 6:.1f}" text-anchor="end" font-size="12"'
        f' fill="#c62828">Mục tiêu {percent(target)}</text>'
    )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"'
        ' stroke="#4a5560" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def furthest_behind_first(groups: Sequence[schemas.Group]) -> list[schemas.Group]:
    """Those furthest below the target first; places that held nothing come last."""
    return sorted(
        groups,
        key=lambda g: (g.held == 0, -g.gap, -g.held, g.label),
    )


def _tile(label: str, value: str, note: str = "", state: str = "") -> str:
    extra = f" {state}" if state else ""
    return (
        f'<div class="tile{extra}"><div class="tile-label">{_e(label)}</div>'
        f'<div class="tile-value">{_e(value)}</div>'
        + (f'<div class="tile-note">{_e(note)}</div>' if note else "")
        + "</div>"
    )


def _forecast_tile(current: schemas.CurrentPeriod | None) -> str:
    if current is None:
        return _tile("Dự báo cuối kỳ", "—")
    if not current.projection_known:
        return _tile("Dự báo cuối kỳ", "—", "chưa có cuộc họp trực tuyến nào đã tổ chức")
    return _tile(
        "Dự báo cuối kỳ",
        percent(current.projected_share),
        current.label,
        "met" if current.projected_met else "behind",
    )


def _places_table(view: Dashboard) -> str:
    heading = "Tỉnh, thành phố" if view.places_are_provinces else "Đơn vị"
    rows = []
    for group in furthest_behind_first(view.places):
        state = "met" if group.met else ("empty" if group.held == 0 else "behind")
        verdict = (
            "Đạt"
            if group.met
            else ("Chưa có cuộc họp" if group.held == 0 else f"Thiếu {number(group.online_needed)}")
        )
        rows.append(
            f'<tr class="{state}" data-key="{_e(group.key or "")}">'
            f'<th scope="row">{_e(group.label)}</th>'
            f'<td data-label="Đã tổ chức">{number(group.held)}</td>'
            f'<td data-label="Trực tuyến (đăng ký)">{number(group.declared_online)}</td>'
            f'<td data-label="Trực tuyến (xác minh)">{number(group.verified_online)}</td>'
            f'<td class="share" data-label="Tỷ lệ xác minh">{percent(group.share)}</td>'
            f'<td data-label="Tỷ lệ đăng ký">{percent(group.share_declared)}</td>'
            f'<td data-label="Tỷ lệ điểm cầu tham dự">{percent(group.attendance_rate)}</td>'
            f'<td class="verdict" data-label="So với mục tiêu">{_e(verdict)}</td></tr>'
        )
    return (
        '<table class="places"><caption>Theo '
        + _e(heading.lower())
        + " — chưa đạt mục tiêu xếp trước</caption><thead><tr>"
        + f'<th scope="col">{_e(heading)}</th>'
        + '<th scope="col">Đã tổ chức</th>'
        + '<th scope="col">Trực tuyến (đăng ký)</th>'
        + '<th scope="col">Trực tuyến (xác minh)</th>'
        + '<th scope="col">Tỷ lệ xác minh</th>'
        + '<th scope="col">Tỷ lệ đăng ký</th>'
        + '<th scope="col">Tỷ lệ điểm cầu tham dự</th>'
        + '<th scope="col">So với mục tiêu</th>'
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _projection(current: schemas.CurrentPeriod | None, target: float) -> str:
    if current is None:
        return ""
    figures = current.figures
    state = "met" if current.projected_met else "behind"
    needed = (
        "Với các cuộc họp đã lên lịch, dự kiến đạt mục tiêu."
        if current.projected_met
        else f"Cần thêm khoảng {number(current.online_needed_by_end)} cuộc họp trực tuyến"
        f" (được xác minh) để đạt mục tiêu {percent(target)}."
    )
    if not current.projection_known:
        return (
            f'<section class="projection unknown"><h3>Dự báo đến hết'
            f" {_e(current.label.lower())}</h3>"
            "<dl>"
            f"<dt>Đã tổ chức</dt><dd>{number(figures.held)}</dd>"
            f"<dt>Đã lên lịch, chưa diễn ra</dt><dd>{number(figures.booked)}"
            f" (trực tuyến {number(figures.booked_online)})</dd>"
            f"<dt>Tỷ lệ trực tuyến theo đăng ký nếu họp đủ</dt>"
            f'<dd class="projected">{percent(current.projected_share_declared)}</dd>'
            "</dl>"
            '<p class="needed">Chưa dự báo được tỷ lệ đã xác minh: trong kỳ chưa có cuộc họp'
            " trực tuyến nào được tổ chức, nên chưa biết bao nhiêu cuộc họp sẽ được cầu hội nghị"
            " xác nhận.</p>"
            "</section>"
        )
    return (
        f'<section class="projection {state}"><h3>Dự báo đến hết {_e(current.label.lower())}</h3>'
        "<dl>"
        f"<dt>Đã tổ chức</dt><dd>{number(figures.held)}"
        f" (trực tuyến đã xác minh {number(figures.verified_online)})</dd>"
        f"<dt>Đã lên lịch, chưa diễn ra</dt><dd>{number(figures.booked)}"
        f" (trực tuyến {number(figures.booked_online)})</dd>"
        f'<dt>Dự báo tỷ lệ trực tuyến</dt><dd class="projected">{percent(current.projected_share)}'
        f" đã xác minh; {percent(current.projected_share_declared)} theo đăng ký</dd>"
        "</dl>"
        f'<p class="needed">{_e(needed)}</p>'
        '<p class="assumption">Giả định các cuộc họp trực tuyến đã lên lịch được xác minh'
        f" với tỷ lệ {percent(current.assumed_verification_rate)} như từ đầu kỳ đến nay.</p>"
        "</section>"
    )


def render(view: Dashboard) -> str:
    total = view.total
    target = total.target
    local = view.as_of.astimezone(view.zone).strftime("%H:%M %d/%m/%Y")
    tiles = "".join(
        [
            _tile(
                "Tỷ lệ trực tuyến (đã xác minh)",
                percent(total.share),
                f"{number(total.verified_online)}/{number(total.held)} cuộc họp",
                "met" if total.met else "behind",
            ),
            _tile(
                "Tỷ lệ trực tuyến (theo đăng ký)",
                percent(total.share_declared),
                f"{number(total.declared_online)}/{number(total.held)} cuộc họp",
            ),
            _tile("Mục tiêu", percent(target), "cuộc họp tổ chức trực tuyến"),
            _forecast_tile(view.current),
            _tile(
                "Tỷ lệ điểm cầu tham dự",
                percent(total.attendance_rate),
                "các cuộc họp trực tuyến đã đối soát",
            ),
        ]
    )
    pending = (
        f" {number(total.verification_pending)} cuộc họp trực tuyến đang chờ đối soát."
        if total.verification_pending
        else ""
    )
    return (
        f'<section class="stats" data-year="{view.year}" data-unit="{view.unit.id}"'
        + (
            f' data-first-year="{view.years_with_data[0]}"'
            f' data-last-year="{view.years_with_data[1]}">'
            if view.years_with_data
            else ">"
        )
        + f"<h2>Tỷ lệ cuộc họp trực tuyến năm {view.year} — {_e(view.unit.name)}</h2>"
        f'<div class="tiles">{tiles}</div>'
        '<figure class="chart-box">'
        + chart(view.months, target, view.year)
        + "<figcaption>Cột: tỷ lệ đã xác minh theo tháng (xanh: đạt, vàng: chưa đạt);"
        " chấm tròn: tỷ lệ theo đăng ký; đường đứt nét: mục tiêu.</figcaption></figure>"
        + _projection(view.current, target)
        + _places_table(view)
        + '<p class="note">Đã tổ chức: cuộc họp không bị hủy, đã kết thúc và không bị lỡ giờ'
        " khởi động (kể cả họp trực tiếp). Trực tuyến theo đăng ký: hình thức trực tuyến hoặc"
        f" kết hợp. Đã xác minh: nhật ký của cầu hội nghị cho thấy ít nhất {rules.MIN_SITES}"
        " điểm cầu kết nối cùng một lúc."
        f"{_e(pending)} Số liệu tính đến {_e(local)}.</p>"
        "</section>"
    )
