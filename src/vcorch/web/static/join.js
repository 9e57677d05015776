// Join page of the WebRTC fallback: open a signed link, check camera and microphone, and
// join the meeting when the person says so: on vcorch's built-in bridge (WHIP), in a Janus
// room (Janus' own janus.js, served by vcorch at /vendor/janus.js), or on the hosting
// bridge's own page (a button that opens it).  Plain ES module, no build step.

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const api = `/api/join/${encodeURIComponent(token)}`;
const WAIT_SECONDS = 15; // a meeting not started yet is asked about again this often
const SITES_SECONDS = 5; // the participant list is refreshed this often

// What each problem type means for the person in front of the screen.
const PROBLEMS = {
  "link-expired": "Đường dẫn này đã hết hạn: cuộc họp đã kết thúc. Hãy xin cán bộ vận hành một đường dẫn mới nếu cuộc họp vẫn đang diễn ra.",
  "link-invalid": "Đường dẫn không hợp lệ (bị sửa hoặc không do hệ thống cấp). Hãy mở lại đúng đường dẫn trong thư, hoặc xin cán bộ vận hành đường dẫn mới.",
  "meeting-not-live": "Cuộc họp hiện không diễn ra. Hãy tải lại trang để xem tình trạng mới nhất.",
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
const STATES = {
  pending: "đang chờ",
  dialling: "đang gọi",
  connected: "đã kết nối",
  failed: "không kết nối được",
  fallback: "chuyển sang trình duyệt",
  disconnected: "mất kết nối",
};
const NO_CAMERA = "none";

const when = new Intl.DateTimeFormat("vi-VN", {
  timeZone: "Asia/Ho_Chi_Minh",
  hour: "2-digit",
  minute: "2-digit",
  weekday: "long",
  day: "numeric",
  month: "numeric",
  year: "numeric",
});
const clock = (iso) => `${when.format(new Date(iso))} (giờ Việt Nam)`;

let info = null;
let preview = null; // the camera and microphone stream being previewed, then sent
let meter = null; // { context, timer } of the level meter
let call = null; // { leave(), pc() } of the connection once joined
let sending = null; // the stream sent once joined (the preview's own)
let sitesTimer = null;
let statsTimer = null;
let waitTimer = null;

// -- small helpers ------------------------------------------------------------------------

function phase(name) {
  document.body.dataset.phase = name;
}

function status(text, state) {
  const node = $("status");
  node.textContent = text;
  node.dataset.state = state;
}

function problem(text, state) {
  if (state !== "warning") status("Không tham gia được", state || "error");
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

// -- the meeting's sites ------------------------------------------------------------------

function siteItem(site) {
  const item = document.createElement("li");
  item.dataset.state = site.state;
  if (site.channel) item.dataset.channel = site.channel;
  if (site.is_me) item.classList.add("me");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = `${site.room_name} — ${site.unit_name}`;
  const notes = [STATES[site.state] || site.state];
  if (site.channel_label && site.state === "connected") notes.push(site.channel_label);
  if (site.is_host) notes.push("điểm cầu chủ trì");
  if (site.is_me) notes.push("đây là bạn");
  const state = document.createElement("span");
  state.className = "state";
  state.textContent = notes.join(" · ");
  item.append(name, " ", state);
  return item;
}

async function refreshSites() {
  let response;
  try {
    response = await fetch(`${api}/sites`, { credentials: "omit", cache: "no-store" });
  } catch (err) {
    return; // a network blip: the next round tries again
  }
  if (!response.ok) return;
  const body = await response.json();
  $("participants").replaceChildren(...body.items.map(siteItem));
  $("count").textContent = String(body.items.length);
  $("people").hidden = false;
}

function watchSites() {
  clearInterval(sitesTimer);
  refreshSites();
  sitesTimer = setInterval(refreshSites, SITES_SECONDS * 1000);
}

// -- preview: camera, microphone, level ---------------------------------------------------

function stopPreview() {
  if (meter) {
    clearInterval(meter.timer);
    meter.context.close().catch(() => {});
    meter = null;
  }
  if (preview) {
    preview.getTracks().forEach((track) => track.stop());
    preview = null;
  }
}

function startMeter(stream) {
  if (!stream.getAudioTracks().length || !window.AudioContext) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const value of samples) sum += value * value;
    const rms = Math.sqrt(sum / samples.length);
    $("level").value = Math.min(1, rms * 4);
    $("level").dataset.rms = rms.toFixed(4);
  }, 100);
  meter = { context, timer };
}

function wakeAudio() {
  // Browsers start audio only after a gesture: any click or key in the lobby wakes it.
  if (meter && meter.context.state === "suspended") meter.context.resume().catch(() => {});
}

// A Janus room is joined through its AudioBridge: sound only (its pictures are not sent).
// (A conference with a VideoRoom room carries the pictures there, the sound still in the
// AudioBridge.)
const audioOnly = () => Boolean(info && info.mode === "janus" && !info.janus.videoroom);

function constraints() {
  const video = info.video || { max_width: 640, max_height: 360, max_fps: 15 };
  const mic = $("mic-select").value;
  const cam = $("cam-select").value;
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (mic) audio.deviceId = { exact: mic };
  let camera = false;
  if (cam !== NO_CAMERA && !audioOnly()) {
    camera = {
      width: { ideal: video.max_width },
      height: { ideal: video.max_height },
      frameRate: { ideal: video.max_fps, max: video.max_fps },
    };
    if (cam) camera.deviceId = { exact: cam };
  }
  return { audio, video: camera };
}

async function openDevices() {
  const wanted = constraints();
  try {
    return await navigator.mediaDevices.getUserMedia(wanted);
  } catch (err) {
    // No camera (or it is busy): sound only, and say so.
    const noCamera = err && ["NotFoundError", "NotReadableError", "OverconstrainedError"].includes(err.name);
    if (wanted.video && noCamera) {
      $("cam-select").value = NO_CAMERA;
      return navigator.mediaDevices.getUserMedia({ audio: wanted.audio });
    }
    throw err;
  }
}

function fillSelect(select, devices, extra) {
  const chosen = select.value;
  const options = devices.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `${extra.label} ${index + 1}`;
    return option;
  });
  if (extra.none) {
    const option = document.createElement("option");
    option.value = NO_CAMERA;
    option.textContent = "Không dùng camera";
    options.push(option);
  }
  select.replaceChildren(...options);
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

function showPreview(stream) {
  const hasCamera = stream.getVideoTracks().length > 0;
  $("preview").srcObject = hasCamera ? stream : null;
  $("preview").hidden = !hasCamera;
  $("no-camera").hidden = hasCamera;
  const [mic] = stream.getAudioTracks();
  const [cam] = stream.getVideoTracks();
  if (mic && mic.getSettings().deviceId) $("mic-select").value = mic.getSettings().deviceId;
  if (cam && cam.getSettings().deviceId) $("cam-select").value = cam.getSettings().deviceId;
}

async function startPreview() {
  stopPreview();
  $("join").disabled = true;
  status("Đang mở micro và camera…", "media");
  try {
    preview = await openDevices();
  } catch (err) {
    problem(MEDIA_PROBLEMS[err && err.name] || `Không mở được micro: ${err && err.message}`, "media-error");
    $("retry").hidden = false;
    return;
  }
  const devices = await navigator.mediaDevices.enumerateDevices();
  fillSelect($("mic-select"), devices.filter((d) => d.kind === "audioinput"), { label: "Micro" });
  fillSelect($("cam-select"), devices.filter((d) => d.kind === "videoinput"), { label: "Camera", none: true });
  showPreview(preview);
  startMeter(preview);
  $("join").disabled = false;
  status("Micro và camera đã sẵn sàng. Bấm “Tham gia” để vào cuộc họp.", "lobby");
}

// -- statistics the page exposes (and a test reads) --------------------------------------

function watchStats(pc) {
  clearInterval(statsTimer);
  statsTimer = setInterval(async () => {
    const peer = pc();
    if (!peer) return;
    let energy = 0;
    let packets = 0;
    let sent = 0;
    (await peer.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "audio") {
        energy += report.totalAudioEnergy || 0;
        packets += report.packetsReceived || 0;
      }
      if (report.type === "outbound-rtp" && report.kind === "audio") sent += report.packetsSent || 0;
    });
    const shown = $("call").dataset;
    shown.inboundAudioEnergy = energy.toFixed(6);
    shown.inboundAudioPackets = String(packets);
    shown.outboundAudioPackets = String(sent);
  }, 500);
}

// -- joining: the built-in bridge (WHIP) --------------------------------------------------

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

function showSpeaker(message) {
  if (message.type !== "state") return;
  const speaker = $("speaker");
  if (message.speaker_is_you) speaker.textContent = "Bạn đang phát biểu";
  else if (message.speaker) speaker.textContent = `Đang phát biểu: ${message.speaker}`;
  else speaker.textContent = "";
  if ((message.participants || []).length <= 1) {
    speaker.textContent = "Chưa có điểm cầu nào khác trong phòng này";
  }
}

function connected() {
  status("Đã kết nối — bạn đang ở trong cuộc họp", "connected");
  phase("joined");
  $("call").hidden = false;
}

function lost() {
  problem("Mất kết nối tới cầu truyền hình. Kiểm tra mạng rồi bấm “Thử lại”.", "failed");
  $("retry").hidden = false;
}

async function joinBuiltin(stream) {
  let resource = null;
  const pc = new RTCPeerConnection({ iceServers: info.ice_servers || [] });
  const audioTrack = stream.getAudioTracks()[0];
  pc.addTransceiver(audioTrack, { direction: "sendrecv", streams: [stream] });
  const videoTrack = stream.getVideoTracks()[0];
  if (videoTrack) pc.addTransceiver(videoTrack, { direction: "sendrecv", streams: [stream] });
  else pc.addTransceiver("video", { direction: "recvonly" });
  const channel = pc.createDataChannel("vcorch");
  channel.addEventListener("message", (event) => {
    try { showSpeaker(JSON.parse(event.data)); } catch (err) { /* not ours */ }
  });
  const remote = new MediaStream();
  $("remote").srcObject = remote;
  pc.addEventListener("track", (event) => remote.addTrack(event.track));
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") connected();
    else if (pc.connectionState === "disconnected") status("Kết nối chập chờn, đang thử nối lại…", "unstable");
    else if (pc.connectionState === "failed") lost();
  });
  call = {
    pc: () => pc,
    leave() {
      if (resource) {
        fetch(resource, { method: "DELETE", keepalive: true, credentials: "omit" }).catch(() => {});
        resource = null;
      }
      pc.close();
    },
  };
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
    finish(null);
    $("retry").hidden = false;
    return;
  }
  resource = response.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
}

// -- joining: a Janus room (janus.js) -----------------------------------------------------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error(`cannot load ${src}`)));
    document.head.append(script);
  });
}

// janus.js asks webrtc-adapter only which browser this is; this answers the same.
function browserDetails() {
  const agent = navigator.userAgent;
  const version = (pattern) => parseInt((agent.match(pattern) || [])[1] || "0", 10);
  if (/Firefox\//.test(agent)) return { browser: "firefox", version: version(/Firefox\/(\d+)/) };
  if (/Chrom(e|ium)\//.test(agent)) return { browser: "chrome", version: version(/Chrom(?:e|ium)\/(\d+)/) };
  if (/Safari\//.test(agent)) return { browser: "safari", version: version(/Version\/(\d+)/) };
  return { browser: "unknown", version: 0 };
}

async function janusLibrary() {
  if (!window.Janus) {
    try {
      await loadScript("/vendor/janus.js");
    } catch (err) {
      return null;
    }
  }
  const Janus = window.Janus;
  await new Promise((resolve) => {
    Janus.init({
      debug: false,
      dependencies: Janus.useDefaultDependencies({ adapter: { browserDetails: browserDetails() } }),
      callback: resolve,
    });
  });
  return Janus;
}

async function joinJanus(stream) {
  const Janus = await janusLibrary();
  if (!Janus) {
    problem("Máy chủ chưa cài thư viện janus.js nên trang không vào được phòng họp Janus. Cán bộ kỹ thuật cần cài gói libjs-janus-gateway (apt-get install libjs-janus-gateway) hoặc đặt janus_js_path.", "unsupported");
    finish(null);
    return;
  }
  const room = info.janus;
  let session = null;
  let handle = null;
  let offered = false;
  const remote = new MediaStream();
  $("remote-audio").srcObject = remote;
  $("remote").srcObject = null;
  let pictures = null; // the VideoRoom side, when the conference has one
  let closed = false; // left on purpose: what Janus says after that is no failure
  call = {
    pc: () => (handle && handle.webrtcStuff ? handle.webrtcStuff.pc : null),
    leave() {
      closed = true;
      if (pictures) pictures.leave();
      if (handle) {
        try { handle.send({ message: { request: "leave" } }); } catch (err) { /* gone */ }
        handle.hangup();
      }
      if (session) session.destroy({ unload: true, notifyDestroyed: false });
      handle = null;
      session = null;
      pictures = null;
    },
  };
  const fail = (text) => {
    if (closed) return;
    problem(text, "failed");
    $("retry").hidden = false;
  };
  const others = new Map(); // AudioBridge ids of the others in the room, kept from its events
  const showParticipants = (message) => {
    if (Array.isArray(message.participants)) {
      message.participants.forEach((p) => { if (p.id !== room.participant_id) others.set(p.id, p.display); });
    }
    if (message.leaving !== undefined) others.delete(message.leaving);
    $("speaker").textContent = others.size
      ? `${audioOnly() ? "Cuộc họp chỉ có âm thanh — đang" : "Đang"} nghe ${others.size} điểm cầu khác`
      : "Chưa có điểm cầu nào khác trong phòng này";
  };
  session = new Janus({
    server: room.server,
    iceServers: info.ice_servers || [],
    success() {
      const camera = stream.getVideoTracks()[0];
      if (room.videoroom && camera) pictures = joinVideoRoom(session, room, camera, fail);
      session.attach({
        plugin: "janus.plugin.audiobridge",
        opaqueId: `vcorch-${room.participant_id}`,
        success(plugin) {
          handle = plugin;
          const join = { request: "join", room: room.room, id: room.participant_id, display: room.display, muted: false };
          if (room.pin) join.pin = room.pin;
          handle.send({ message: join });
        },
        error: () => fail("Không mở được kết nối tới cầu truyền hình Janus. Hãy bấm “Thử lại”."),
        onmessage(message, jsep) {
          const event = message.audiobridge;
          if (message.error) {
            fail(`Cầu truyền hình Janus từ chối: ${message.error}`);
            return;
          }
          if (event === "joined" && !offered) {
            offered = true;
            handle.createOffer({
              tracks: [{ type: "audio", capture: stream.getAudioTracks()[0], recv: true }],
              success(offer) {
                handle.send({ message: { request: "configure", muted: false }, jsep: offer });
              },
              error: () => fail("Trình duyệt không tạo được kết nối âm thanh. Hãy bấm “Thử lại”."),
            });
          }
          showParticipants(message);
          if (jsep) handle.handleRemoteJsep({ jsep });
        },
        onremotetrack(track, mid, on) {
          if (track.kind !== "audio") return;
          if (on) remote.addTrack(track);
          else remote.removeTrack(track);
        },
        webrtcState(on) {
          if (closed) return;
          if (on) connected();
          else lost();
        },
      });
    },
    error: () => fail("Không kết nối được tới cầu truyền hình Janus. Kiểm tra mạng rồi bấm “Thử lại”."),
  });
}

// The pictures of a Janus conference: this site publishes its camera to the VideoRoom room
// (with the same reserved id) and one multistream subscriber receives the others' cameras;
// the stage shows the most recent one.
function joinVideoRoom(session, room, camera, fail) {
  let publisher = null;
  let subscriber = null;
  let subscribing = false;
  const feeds = new Set();
  const stage = new MediaStream();
  $("remote").srcObject = stage;
  const withPin = (body) => (room.pin ? { ...body, pin: room.pin } : body);

  const subscribe = (publishers) => {
    const fresh = (publishers || []).map((p) => p.id).filter((id) => id !== room.participant_id && !feeds.has(id));
    if (!fresh.length) return;
    fresh.forEach((id) => feeds.add(id));
    const streams = fresh.map((feed) => ({ feed }));
    if (subscriber) {
      subscriber.send({ message: { request: "subscribe", streams } });
      return;
    }
    if (subscribing) return;
    subscribing = true;
    session.attach({
      plugin: "janus.plugin.videoroom",
      success(plugin) {
        subscriber = plugin;
        subscriber.send({ message: withPin({ request: "join", ptype: "subscriber", room: room.videoroom, streams }) });
      },
      error: () => fail("Không nhận được hình của các điểm cầu khác. Hãy bấm “Thử lại”."),
      onmessage(message, jsep) {
        if (!jsep) return;
        subscriber.createAnswer({
          jsep,
          tracks: [{ type: "data" }],
          success(answer) {
            subscriber.send({ message: { request: "start", room: room.videoroom }, jsep: answer });
          },
          error: () => fail("Không nhận được hình của các điểm cầu khác. Hãy bấm “Thử lại”."),
        });
      },
      onremotetrack(track, mid, on) {
        if (track.kind !== "video") return;
        if (on) {
          stage.getVideoTracks().forEach((old) => stage.removeTrack(old));
          stage.addTrack(track);
        } else {
          stage.removeTrack(track);
        }
      },
    });
  };

  session.attach({
    plugin: "janus.plugin.videoroom",
    success(plugin) {
      publisher = plugin;
      publisher.send({
        message: withPin({ request: "join", ptype: "publisher", room: room.videoroom, id: room.participant_id, display: room.display }),
      });
    },
    error: () => fail("Không gửi được hình từ camera. Hãy bấm “Thử lại”."),
    onmessage(message, jsep) {
      if (message.videoroom === "joined") {
        publisher.createOffer({
          tracks: [{ type: "video", capture: camera, recv: false }],
          success(offer) {
            publisher.send({ message: { request: "configure", audio: false, video: true }, jsep: offer });
          },
          error: () => fail("Không gửi được hình từ camera. Hãy bấm “Thử lại”."),
        });
      }
      if (message.publishers) subscribe(message.publishers);
      if (jsep) publisher.handleRemoteJsep({ jsep });
    },
  });

  return {
    leave() {
      for (const plugin of [subscriber, publisher]) {
        if (!plugin) continue;
        try { plugin.send({ message: { request: "leave" } }); } catch (err) { /* gone */ }
        plugin.hangup();
      }
      publisher = null;
      subscriber = null;
    },
  };
}

// -- joining, leaving ---------------------------------------------------------------------

async function join() {
  wakeAudio();
  clearProblem();
  if (!preview) return;
  $("join").disabled = true;
  $("lobby").hidden = true;
  const stream = preview;
  sending = stream;
  if (meter) {
    clearInterval(meter.timer);
    meter.context.close().catch(() => {});
    meter = null;
  }
  const pictures = stream.getVideoTracks().length > 0;
  $("local").srcObject = pictures ? stream : null;
  $("cam").hidden = !pictures;
  $("call").classList.toggle("audio-only", audioOnly());
  document.querySelector(".self").hidden = !pictures;
  status("Đang kết nối…", "connecting");
  phase("joining");
  try {
    if (info.mode === "janus") await joinJanus(stream);
    else await joinBuiltin(stream);
  } catch (err) {
    problem(`Không kết nối được: ${err && err.message}`, "failed");
    $("retry").hidden = false;
  }
  if (call) watchStats(call.pc);
}

function finish(reason) {
  clearInterval(statsTimer);
  if (call) {
    call.leave();
    call = null;
  }
  stopPreview();
  sending = null;
  if (reason) {
    $("call").hidden = true;
    status(reason, "left");
    phase("left");
    clearInterval(sitesTimer);
  }
}

// -- what the link says -------------------------------------------------------------------

function named() {
  $("meeting").textContent = info.meeting_title;
  $("site").textContent = `${info.site_name} — ${info.unit_name}`;
  $("when").textContent = `Từ ${clock(info.starts_at)} đến ${when.format(new Date(info.ends_at))}`;
  document.title = `${info.meeting_title} — vcorch`;
}

function notLive() {
  if (info.status === "not_started") {
    status(`Cuộc họp chưa bắt đầu. Cuộc họp bắt đầu lúc ${clock(info.starts_at)}. Trang sẽ tự kiểm tra lại sau ít giây.`, "not-started");
    phase("not-started");
    waitTimer = setTimeout(start, WAIT_SECONDS * 1000);
  } else if (info.status === "ended") {
    status(`Cuộc họp đã kết thúc (theo lịch kết thúc lúc ${clock(info.ends_at)}). Cảm ơn bạn đã tham gia.`, "ended");
    phase("ended");
  } else {
    status("Cuộc họp này không tổ chức được. Hãy liên hệ cán bộ vận hành để biết lịch họp mới.", "failed");
    phase("failed");
  }
}

async function start() {
  clearTimeout(waitTimer);
  clearProblem();
  $("retry").hidden = true;
  if (!window.RTCPeerConnection || !navigator.mediaDevices) {
    problem("Trình duyệt này không hỗ trợ họp trực tuyến (WebRTC). Hãy dùng Chrome, Edge hoặc Firefox bản mới.", "unsupported");
    return;
  }
  let response;
  try {
    response = await fetch(api, { credentials: "omit", cache: "no-store" });
  } catch (err) {
    problem("Không kết nối được tới máy chủ. Kiểm tra mạng rồi bấm “Thử lại”.", "offline");
    $("retry").hidden = false;
    return;
  }
  if (!response.ok) {
    problem(await readProblem(response), "refused");
    if (response.status === 409 || response.status === 503) $("retry").hidden = false;
    return;
  }
  info = await response.json();
  named();
  if (info.status !== "live") {
    notLive();
    return;
  }
  phase("lobby");
  watchSites();
  if (info.mode === "bridge") {
    $("open").href = info.url;
    $("bridge").hidden = false;
    status("Cuộc họp đang diễn ra trên cầu truyền hình chính.", "bridge");
    return;
  }
  $("separate").hidden = !info.separate_room;
  $("cam-select").hidden = audioOnly();
  document.querySelector("label[for=cam-select]").hidden = audioOnly();
  $("no-camera").textContent = audioOnly()
    ? "Cuộc họp này chỉ dùng âm thanh: bạn nghe và nói bằng micro, không cần camera."
    : "Không dùng camera: bạn tham gia chỉ bằng âm thanh.";
  $("lobby").hidden = false;
  await startPreview();
}

$("retry").addEventListener("click", () => {
  finish(null);
  $("call").hidden = true;
  start();
});
$("join").addEventListener("click", join);
$("mic-select").addEventListener("change", () => { wakeAudio(); startPreview(); });
$("cam-select").addEventListener("change", () => { wakeAudio(); startPreview(); });
$("lobby").addEventListener("click", wakeAudio);
$("leave").addEventListener("click", () => finish("Bạn đã rời cuộc họp. Có thể mở lại đường dẫn để vào lại."));
$("mic").addEventListener("click", () => {
  const track = currentTrack("audio");
  if (!track) return;
  track.enabled = !track.enabled;
  $("mic").textContent = track.enabled ? "Tắt micro" : "Bật micro";
  $("mic").setAttribute("aria-pressed", String(!track.enabled));
});
$("cam").addEventListener("click", () => {
  const track = currentTrack("video");
  if (!track) return;
  track.enabled = !track.enabled;
  $("cam").textContent = track.enabled ? "Tắt camera" : "Bật camera";
  $("cam").setAttribute("aria-pressed", String(!track.enabled));
});
window.addEventListener("pagehide", () => finish(null));

function currentTrack(kind) {
  const stream = sending;
  if (!stream) return null;
  return (kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks())[0] || null;
}

start();
