// Browser side of the chat demo; `io` comes from socket.io-client's dist build (see app.py).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const messages = $("messages");
  const pending = new Map(); // our own message id -> <li> waiting for the ack tick
  let joined = false;

  function add(text, cls) {
    const li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    messages.appendChild(li);
    messages.scrollTop = messages.scrollHeight;
    return li;
  }

  function setEnabled(on) {
    for (const id of ["text", "say", "shout"]) $(id).disabled = !on;
  }

  // same-origin connection; websocket first, polling as fallback
  const socket = io({ transports: ["websocket", "polling"], ackTimeout: 5000 });
  window.chatSocket = socket; // handy in the devtools console and for browser tests

  socket.on("connect", () => {
    $("conn").textContent = "connected";
    $("conn").className = "conn on";
    if (joined) join(); // rejoin the room after a reconnect
  });
  socket.on("disconnect", (reason) => {
    $("conn").textContent = "disconnected (" + reason + ")";
    $("conn").className = "conn off";
    setEnabled(false);
  });
  socket.on("online", (data) => { $("online").textContent = data.count + " online"; });
  socket.on("status", (data) => add("[" + data.room + "] " + data.text, "status"));
  socket.on("chat", (msg) => {
    const prefix = msg.shout ? msg.name + " (to all): " : msg.name + ": ";
    const li = add(prefix + msg.text, msg.shout ? "shout" : "");
    li.dataset.id = msg.id;
    const mine = pending.get(msg.id);
    if (mine) { mine.remove(); pending.delete(msg.id); markAcked(li); }
  });

  function markAcked(li) {
    const tick = document.createElement("span");
    tick.className = "ack";
    tick.textContent = "✓ delivered";
    li.appendChild(tick);
  }

  function join() {
    socket.timeout(5000).emit("join", { name: $("name").value, room: $("room").value }, (err, res) => {
      if (err || !res.ok) { add("could not join: " + (err ? err.message : res.error), "error"); return; }
      joined = true;
      $("current-room").textContent = "in #" + res.room + " with " + res.members.join(", ");
      setEnabled(true);
      $("text").focus();
    });
  }

  function send(event) {
    const text = $("text").value.trim();
    if (!text) return;
    $("text").value = "";
    socket.timeout(5000).emit(event, { text: text }, (err, res) => {
      if (err || !res.ok) { add("not sent: " + (err ? "no ack from server" : res.error), "error"); return; }
      // the ack can arrive before or after our own copy of the message
      const li = messages.querySelector('li[data-id="' + res.id + '"]');
      if (li) markAcked(li); else pending.set(res.id, add("…", "status"));
    });
  }

  $("join-form").addEventListener("submit", (e) => { e.preventDefault(); join(); });
  $("say-form").addEventListener("submit", (e) => { e.preventDefault(); send("say"); });
  $("shout").addEventListener("click", () => send("shout"));
})();
