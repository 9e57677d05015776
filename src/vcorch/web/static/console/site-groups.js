// Site groups (/site-groups): saved sets of sites to add to a meeting at once — rooms chosen
// by hand, a rule over the unit tree ("every province"), or both.
import {
  startPage, api, apiAll, el, append, replace, focus, toast, report, confirmDialog, Problem,
} from "/static/console/vc.js";
import { loadOrganisation, sitePicker } from "/static/console/sitepicker.js";

startPage({
  page: "site-groups",
  title: "Nhóm điểm cầu",
  render: async (user, root) => {
    const org = await loadOrganisation();
    const listNode = el("ul", { className: "meetings groups", id: "group-list", "aria-labelledby": "list-title" });
    let groups = [];
    let editing = null;  // the group being edited (with its version), or null for a new one

    const name = el("input", { id: "g-name", required: true, maxlength: "255" });
    const description = el("textarea", { id: "g-description", rows: "2" });
    const owner = el("select", { id: "g-unit" },
      org.units.map((u) => el("option", { value: String(u.id) }, "\u00a0\u00a0".repeat(u.depth) + u.name)));
    const ruleOn = el("input", { id: "g-rule", type: "checkbox" });
    const ruleUnit = el("select", { id: "g-rule-unit" },
      org.units.map((u) => el("option", { value: String(u.id) }, "\u00a0\u00a0".repeat(u.depth) + u.name)));
    const ruleLevel = el("select", { id: "g-rule-level" }, el("option", { value: "" }, "Mọi cấp"),
      org.levels.map((l) => el("option", { value: l.code }, l.name)));
    const chosen = new Set();
    const chosenCount = el("p", { className: "hint", id: "g-count", "aria-live": "polite" });
    const picker = sitePicker(org, chosen, { idPrefix: "g-pick", onChange: () => { chosenCount.textContent = chosen.size + " phòng chọn tay"; } });
    const formTitle = el("h2", { id: "form-title" }, "Nhóm mới");
    const ruleBody = el("div", { className: "grid two", id: "g-rule-body" },
      el("div", { className: "field" }, el("label", { for: ruleUnit.id }, "Mọi phòng trong đơn vị"), ruleUnit),
      el("div", { className: "field" }, el("label", { for: ruleLevel.id }, "Chỉ đơn vị cấp"), ruleLevel));

    const reset = (group) => {
      editing = group || null;
      formTitle.textContent = group ? "Sửa nhóm: " + group.name : "Nhóm mới";
      name.value = group ? group.name : "";
      description.value = group ? group.description || "" : "";
      owner.value = String(group ? group.unit_id : user.unit_id);
      ruleOn.checked = Boolean(group && group.rule);
      ruleUnit.value = String(group && group.rule ? group.rule.unit_id : user.unit_id);
      ruleLevel.value = group && group.rule ? group.rule.level || "" : "";
      ruleBody.hidden = !ruleOn.checked;
      chosen.clear();
      for (const room of group ? group.room_ids : []) chosen.add(room);
      chosenCount.textContent = chosen.size + " phòng chọn tay";
      picker.refresh();
    };
    ruleOn.addEventListener("change", () => { ruleBody.hidden = !ruleOn.checked; });

    const load = async () => {
      groups = await apiAll("/api/site-groups");
      replace(listNode, groups.length ? groups.map((g) => el("li", { dataset: { group: String(g.id) } },
        el("span", { className: "meeting-title" }, g.name),
        el("span", { className: "meeting-meta" }, g.unit_name + " · " + g.members.length + " điểm cầu" +
          (g.rule ? " · theo quy tắc" : "") + (g.hidden_members ? " · " + g.hidden_members + " điểm ngoài phạm vi của bạn" : "")),
        g.description ? el("span", { className: "small" }, g.description) : null,
        el("details", {}, el("summary", {}, "Xem các điểm cầu"),
          el("ul", { className: "small" }, g.members.map((m) => el("li", {}, m.room_name + " · " + m.unit_name)))),
        el("div", { className: "actions" },
          el("button", { type: "button", className: "small secondary", "aria-label": "Sửa nhóm " + g.name,
            on: { click: () => { reset(g); focus(formTitle); } } }, "Sửa"),
          el("button", { type: "button", className: "small danger", "aria-label": "Xóa nhóm " + g.name,
            on: { click: () => remove(g) } }, "Xóa"))))
        : el("li", { className: "empty" }, "Chưa có nhóm nào. Tạo nhóm đầu tiên ở bên cạnh."));
    };

    const remove = async (group) => {
      if (!await confirmDialog("Xóa nhóm “" + group.name + "”? Các cuộc họp đã đặt vẫn giữ điểm cầu của mình.", { confirm: "Xóa nhóm", cancel: "Không" })) return;
      try {
        await api("/api/site-groups/" + group.id, { method: "DELETE", headers: { "If-Match": '"v' + group.version + '"' } });
        toast("Đã xóa nhóm “" + group.name + "”.", "ok");
        if (editing && editing.id === group.id) reset(null);
      } catch (err) {
        report(err, err instanceof Problem && err.status === 412 ? "Nhóm vừa được người khác sửa; đã tải lại" : "Chưa xóa được");
      }
      await load();
    };

    const save = async (event) => {
      event.preventDefault();
      const body = {
        unit_id: Number(owner.value),
        name: name.value.trim(),
        description: description.value.trim() || null,
        room_ids: [...chosen],
        rule: ruleOn.checked ? { unit_id: Number(ruleUnit.value), level: ruleLevel.value || null } : null,
      };
      if (!body.name) { toast("Hãy đặt tên nhóm.", "error"); name.focus(); return; }
      try {
        if (editing) {
          const saved = await api("/api/site-groups/" + editing.id, { method: "PUT", body, headers: { "If-Match": '"v' + editing.version + '"' } });
          toast("Đã lưu nhóm “" + saved.name + "” (" + saved.members.length + " điểm cầu).", "ok");
        } else {
          const saved = await api("/api/site-groups", { method: "POST", body });
          toast("Đã tạo nhóm “" + saved.name + "” (" + saved.members.length + " điểm cầu).", "ok");
        }
        reset(null);
      } catch (err) {
        if (err instanceof Problem && err.status === 412) {
          report(err, "Nhóm vừa được người khác sửa; hãy mở lại");
        } else report(err, "Chưa lưu được");
      }
      await load();
    };

    const form = el("form", { id: "group-form", className: "card", novalidate: true, "aria-labelledby": "form-title", on: { submit: save } },
      formTitle,
      el("div", { className: "grid two" },
        el("div", { className: "field" }, el("label", { for: name.id }, "Tên nhóm"), name),
        el("div", { className: "field" }, el("label", { for: owner.id }, "Thuộc đơn vị"), owner)),
      el("div", { className: "field" }, el("label", { for: description.id }, "Mô tả"), description),
      el("label", { className: "inline", for: ruleOn.id }, ruleOn, "Lấy theo cây đơn vị (tự cập nhật khi thêm phòng)"),
      ruleBody,
      el("h3", {}, "Chọn phòng bằng tay"), chosenCount, picker.node,
      el("div", { className: "actions" },
        el("button", { type: "submit", className: "primary", id: "g-save" }, "Lưu nhóm"),
        el("button", { type: "button", className: "secondary", on: { click: () => reset(null) } }, "Làm mới")));

    append(root,
      el("h1", {}, "Nhóm điểm cầu"),
      el("p", { className: "hint" }, "Nhóm điểm cầu là tập điểm cầu lưu sẵn (ví dụ “Tất cả các tỉnh”), để thêm cả nhóm vào cuộc họp một lần."),
      el("div", { className: "grid two" },
        el("section", { className: "card", "aria-labelledby": "list-title" }, el("h2", { id: "list-title" }, "Các nhóm"), listNode),
        form));
    reset(null);
    await load();
  },
});
