// Home (/): after sign-in, each role sees its work (see docs/console.md).
import { startPage, el, formatDate } from "/static/console/vc.js";

startPage({
  page: "home",
  title: "Trang chủ",
  render: async (user, root) => {
    root.append(
      el("h1", {}, "Xin chào, " + user.name),
      el("p", { className: "muted" }, "Hôm nay là " + formatDate(new Date(), user.zone) + "."),
    );
  },
});
