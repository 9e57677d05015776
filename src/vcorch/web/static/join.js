// Join page of the WebRTC fallback: open a signed link, get camera and microphone, and
// join the meeting, on vcorch's built-in bridge (WHIP) or on the hosting bridge's own page.
// Plain script, no build step; talks only to this origin.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

  // What each problem type means for the person in front of the screen.
  const PROBLEMS = {
    "link-expired": "Đường dẫn này đã hết hạn: cuộc họp đã kết thúc. Hãy xin cán bộ vận hành một đường dẫn mới nếu cuộc họp vẫn đang diễn ra.",
    "link-invalid": "Đường dẫn không hợp lệ (bị sửa hoặc không do hệ thống cấp). Hãy mở lại đúng đường dẫn trong thư, hoặc xin cán bộ vận hành đường dẫn mới.",
    "meeting-not-live": "Cuộc họp hiện không diễn ra (chưa bắt đầu hoặc đã kết thúc). Hãy thử lại khi cuộc họp bắt đầu.",
    "bridge-full": "Cầu truyền hình dự phòng đã đủ số điểm cầu tối đa. Những người đang họp không bị ảnh hưởng; hãy báo cán bộ vận hành hoặc thử lại sau ít phút.",
    "builtin-bridge-missing": "Cầu truyền hình dự phòng chưa sẵn sàng. Hãy báo cán bộ vận hành.",
    "join-elsewhere": "Cuộc họp này tham gia qua trang của cầu truyền hình chính. Hãy tải lại trang.",
    "invalid-offer": "Trình duyệt này không gửi được âm thanh theo cách cầu truyền hình cần. Hãy dùng Chrome, Edge hoặc Firefox bản mới.",
  };
  const MEDIA_PROBLEMS = {
    NotAllowedError: "Bạn chưa cho phép trang dùng micro và camera. Hãy bấm vào biểu tượng khóa cạnh địa chỉ trang, cho phép micro và camera, rồi bấm “Thử lại”.",
    NotFoundError: "Không tìm thấy micro trên máy này. Hãy cắm micro (hoặc tai nghe có micro) rồi bấm “Thử lại”.",
    NotReadableError: "Micro hoặc camera đang bị chương trình khác dùng. Hãy đóng chương trình đó rồi bấm “Thử lại”.",
    SecurityError: "Trình duyệt chặn micro và camera vì trang không được mở qua HTTPS.",
  };

  let pc = null;
  let resource = null; // the WHIP resource to DELETE on leaving
  let localStream = null;

  function status(text, state) {
    const node = $("status");
    node.textContent = text;
    node.dataset.state = state;
  }

  function problem(text, state) {
    status(state === "warning" ? $("status").textContent : "Không tham gia được", state || "error");
    const node = $("problem");
    node.textContent = text;
    node.hidden = false;
  }

  function clearProblem() {
    $("problem").hidden = true;
    $("problem").textContent = "";
  }

  async function readProblem(response) {
    let slug = "";
    let detail = "";
    try {
      const body = await response.json();
      slug = String(body.type || "").split(":").pop();
      detail = body.detail || "";
    } catch (err) {
      detail = response.statusText;
    }
    return PROBLEMS[slug] || `Lỗi ${response.status}: ${detail}`;
  }

  async function getMedia(video) {
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    const camera = {
      width: { ideal: video.max_width },
      height: { ideal: video.max_height },
      frameRate: { ideal: video.max_fps, max: video.max_fps },
    };
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio, video: camera }), camera: true };
    } catch (err) {
      // No camera (or it is busy): join with sound only, and say so.
      if (err && (err.name === "NotFoundError" || err.name === "NotReadableError" || err.name === "OverconstrainedError")) {
        return { stream: await navigator.mediaDevices.getUserMedia({ audio }), camera: false };
      }
      throw err;
    }
  }

  function gatheringDone(peer, seconds) {
    if (peer.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, seconds * 1000);
      peer.addEventListener("icegatheringstatechange", () => {
        if (peer.iceGatheringState === "complete") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  function showState(message) {
    if (message.type !== "state") return;
    const speaker = $("speaker");
    if (message.speaker_is_you) speaker.textContent = "Bạn đang phát biểu";
    else if (message.speaker) speaker.textContent = `Đang phát biểu: ${message.speaker}`;
    else speaker.textContent = "";
    if ((message.participants || []).length <= 1) {
      speaker.textContent = "Chưa có điểm cầu nào khác trong cuộc họp";
    }
    const list = $("participants");
    list.replaceChildren(...(message.participants || []).map((name) => {
      const item = document.createElement("li");
      item.textContent = name;
      return item;
    }));
    $("count").textContent = String((message.participants || []).length);
  }

  async function joinBuiltin(info) {
    status("Đang xin quyền dùng micro và camera…", "media");
    let media;
    try {
      media = await getMedia(info.video);
    } catch (err) {
      problem(MEDIA_PROBLEMS[err && err.name] || `Không mở được micro: ${err && err.message}`, "media-error");
      $("retry").hidden = false;
      return;
    }
    localStream = media.stream;
    $("local").srcObject = localStream;
    if (!media.camera) {
      problem("Không tìm thấy camera: bạn tham gia chỉ bằng âm thanh (mọi người vẫn nghe thấy bạn).", "warning");
    }
    status("Đang kết nối…", "connecting");
    pc = new RTCPeerConnection({ iceServers: info.ice_servers || [] });
    const audioTrack = localStream.getAudioTracks()[0];
    pc.addTransceiver(audioTrack, { direction: "sendrecv", streams: [localStream] });
    const videoTrack = localStream.getVideoTracks()[0];
    if (videoTrack) pc.addTransceiver(videoTrack, { direction: "sendrecv", streams: [localStream] });
    else pc.addTransceiver("video", { direction: "recvonly" });
    const channel = pc.createDataChannel("vcorch");
    channel.addEventListener("message", (event) => {
      try { showState(JSON.parse(event.data)); } catch (err) { /* not ours */ }
    });
    const remote = new MediaStream();
    $("remote").srcObject = remote;
    pc.addEventListener("track", (event) => {
      remote.addTrack(event.track);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") {
        status("Đã kết nối — bạn đang ở trong cuộc họp", "connected");
        $("call").hidden = false;
      } else if (pc.connectionState === "disconnected") {
        status("Kết nối chập chờn, đang thử nối lại…", "unstable");
      } else if (pc.connectionState === "failed") {
        problem("Mất kết nối tới cầu truyền hình. Kiểm tra mạng rồi bấm “Thử lại”.", "failed");
        $("retry").hidden = false;
      }
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringDone(pc, 4);
    const response = await fetch(info.whip_url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
      credentials: "omit",
    });
    if (response.status !== 201) {
      problem(await readProblem(response), "refused");
      pc.close();
      pc = null;
      $("retry").hidden = false;
      return;
    }
    resource = response.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  }

  function leave(reason) {
    if (resource) {
      fetch(resource, { method: "DELETE", keepalive: true, credentials: "omit" }).catch(() => {});
      resource = null;
    }
    if (pc) {
      pc.close();
      pc = null;
    }
    if (localStream) {
      localStream.getTracks().forEach((track) => track.stop());
      localStream = null;
    }
    if (reason) {
      $("call").hidden = true;
      status(reason, "left");
    }
  }

  async function start() {
    clearProblem();
    $("retry").hidden = true;
    if (!window.RTCPeerConnection || !navigator.mediaDevices) {
      problem("Trình duyệt này không hỗ trợ họp trực tuyến (WebRTC). Hãy dùng Chrome, Edge hoặc Firefox bản mới.", "unsupported");
      return;
    }
    if (new URLSearchParams(location.search).has("janus")) {
      // A Janus bridge's own browser link (its join_page_url points here): that page is not
      // part of vcorch yet, so say so rather than call the link forged.
      problem("Đường dẫn này dành cho trang tham gia của cầu Janus, trang đó chưa được cài trên hệ thống. Hãy báo cán bộ vận hành để nhận đường dẫn dự phòng của vcorch.", "unsupported");
      return;
    }
    let response;
    try {
      response = await fetch(`/api/join/${encodeURIComponent(token)}`, { credentials: "omit" });
    } catch (err) {
      problem("Không kết nối được tới máy chủ. Kiểm tra mạng rồi bấm “Thử lại”.", "offline");
      $("retry").hidden = false;
      return;
    }
    if (!response.ok) {
      const text = await readProblem(response);
      problem(text, "refused");
      if (response.status === 409 || response.status === 503) $("retry").hidden = false;
      return;
    }
    const info = await response.json();
    $("meeting").textContent = info.meeting_title;
    $("site").textContent = `${info.site_name} — ${info.unit_name}`;
    document.title = `${info.meeting_title} — vcorch`;
    if (info.mode === "bridge") {
      status("Đang chuyển sang cầu truyền hình của cuộc họp…", "redirect");
      location.replace(info.url);
      return;
    }
    try {
      await joinBuiltin(info);
    } catch (err) {
      problem(`Không kết nối được: ${err && err.message}`, "failed");
      $("retry").hidden = false;
    }
  }

  $("retry").addEventListener("click", () => {
    leave(null);
    start();
  });
  $("leave").addEventListener("click", () => leave("Bạn đã rời cuộc họp. Có thể mở lại đường dẫn để vào lại."));
  $("mic").addEventListener("click", () => {
    if (!localStream) return;
    const track = localStream.getAudioTracks()[0];
    track.enabled = !track.enabled;
    $("mic").textContent = track.enabled ? "Tắt micro" : "Bật micro";
  });
  window.addEventListener("pagehide", () => leave(null));
  start();
})();
