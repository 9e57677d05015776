// The site picker of the booking form and the site-groups page: the rooms of the user's
// scope over the unit tree, searched accent-insensitively, chosen with checkboxes.
import { api, apiAll, el, replace } from "/static/console/vc.js";

/** Text folded for search: lower case, no accents, đ as d (as the API's search does). */
export function fold(text) {
  return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .replace(/đ/g, "d").replace(/Đ/g, "d").toLowerCase();
}

/**
 * The organisation in the user's scope: units (with depth and path of names), rooms (each
 * with its unit), levels.  `rooms` is in tree order: a province's communes follow it.
 */
export async function loadOrganisation() {
  const [units, rooms, levels] = await Promise.all([
    apiAll("/api/units"), apiAll("/api/rooms"), api("/api/unit-levels"),
  ]);
  const unitById = new Map(units.map((u) => [u.id, u]));
  const depth = (u) => { let d = 0; let p = u; while (p && unitById.has(p.parent_id)) { d += 1; p = unitById.get(p.parent_id); } return d; };
  const trail = (u) => { const names = []; let p = u; while (p) { names.unshift(p.name); p = unitById.get(p.parent_id); } return names; };
  for (const u of units) { u.depth = depth(u); u.trail = trail(u); }
  // Tree order: depth-first over children sorted by name.
  const children = new Map();
  for (const u of units) {
    const key = unitById.has(u.parent_id) ? u.parent_id : null;
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(u);
  }
  for (const list of children.values()) list.sort((a, b) => a.name.localeCompare(b.name, "vi"));
  const ordered = [];
  const walk = (key) => { for (const u of children.get(key) || []) { ordered.push(u); walk(u.id); } };
  walk(null);
  const position = new Map(ordered.map((u, i) => [u.id, i]));
  const roomList = rooms.map((r) => ({ ...r, unit: unitById.get(r.unit_id) }))
    .sort((a, b) => (position.get(a.unit_id) ?? 0) - (position.get(b.unit_id) ?? 0) || a.name.localeCompare(b.name, "vi"));
  for (const room of roomList) room.search = fold(room.name + " " + (room.unit ? room.unit.trail.join(" ") : ""));
  return {
    units: ordered,
    unitById,
    rooms: roomList,
    roomById: new Map(roomList.map((r) => [r.id, r])),
    levels: levels.items,
  };
}

/** "Phòng họp · Tỉnh Lào Cai › Xã Bắc Hà". */
export function roomLabel(room) {
  if (!room) return "";
  return room.name + (room.unit ? " · " + room.unit.trail.slice(1).join(" › ") || room.unit.name : "");
}

/**
 * A searchable list of rooms with checkboxes.  `chosen` is a Set of room ids (shared with
 * the caller); `onChange()` is called after each tick.  Returns {node, refresh()}.
 */
export function sitePicker(org, chosen, { idPrefix = "pick", onChange = () => {} } = {}) {
  const search = el("input", {
    id: idPrefix + "-search", type: "search", autocomplete: "off",
    placeholder: "Tên phòng, đơn vị…", "aria-controls": idPrefix + "-list",
  });
  const unitFilter = el("select", { id: idPrefix + "-unit" },
    el("option", { value: "" }, "Mọi đơn vị"),
    org.units.map((u) => el("option", { value: String(u.id) }, "\u00a0\u00a0".repeat(u.depth) + u.name)));
  const count = el("p", { className: "hint", id: idPrefix + "-count", "aria-live": "polite" });
  const list = el("ul", { className: "pick-list", id: idPrefix + "-list", "aria-label": "Các phòng họp" });
  const refresh = () => {
    const words = fold(search.value).split(/\s+/).filter(Boolean);
    const within = unitFilter.value ? org.unitById.get(Number(unitFilter.value)) : null;
    const shown = org.rooms.filter((room) => {
      if (within && !(room.unit && (room.unit.id === within.id || room.unit.trail.slice(0, within.trail.length).join("/") === within.trail.join("/")))) return false;
      return words.every((w) => room.search.includes(w));
    }).slice(0, 300);
    replace(list, shown.map((room) => {
      const box = el("input", {
        type: "checkbox", id: idPrefix + "-room-" + room.id, value: String(room.id),
        checked: chosen.has(room.id),
        on: { change: (event) => { if (event.target.checked) chosen.add(room.id); else chosen.delete(room.id); onChange(); } },
      });
      return el("li", { dataset: { depth: String(room.unit ? room.unit.depth : 0) } },
        el("label", { className: "inline", for: box.id }, box,
          el("span", {}, room.name, el("span", { className: "muted small" }, " · " + (room.unit ? room.unit.name : "")))));
    }));
    count.textContent = shown.length ? "Hiện " + shown.length + " phòng" : "Không có phòng nào khớp.";
  };
  search.addEventListener("input", refresh);
  unitFilter.addEventListener("change", refresh);
  refresh();
  const node = el("div", { className: "picker" },
    el("div", { className: "filters" },
      el("div", { className: "field" }, el("label", { for: search.id }, "Tìm phòng"), search),
      el("div", { className: "field" }, el("label", { for: unitFilter.id }, "Trong đơn vị"), unitFilter)),
    count, list);
  return { node, refresh };
}
