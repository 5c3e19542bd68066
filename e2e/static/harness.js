// In-page helpers the Playwright specs call through page.evaluate().
// Every socket gets a name; everything it sees is recorded in h.events[name].
(function () {
  'use strict';

  var h = {sockets: {}, events: {}, answers: {}};

  function log(line) {
    var el = document.getElementById('log');
    if (el) el.textContent += line + '\n';
  }

  function record(name, type, args) {
    h.events[name].push({type: type, args: args, at: Date.now()});
    log(name + ' ' + type + ' ' + safeJson(args));
  }

  function safeJson(value) {
    try {
      return JSON.stringify(value, function (key, v) {
        if (v instanceof ArrayBuffer) return '<ArrayBuffer ' + v.byteLength + '>';
        if (ArrayBuffer.isView(v)) return '<' + v.constructor.name + ' ' + v.byteLength + '>';
        return v;
      }).slice(0, 300);
    } catch (e) {
      return String(value);
    }
  }

  // Open a socket: url is absolute or a namespace path on this origin.
  // opts are socket.io-client options; opts.parser === 'msgpack' selects socket.io-msgpack-parser.
  // Resolves with {id, engineId, transport} on connect, rejects with {message, data} on connect_error.
  h.open = function (name, url, opts) {
    opts = Object.assign({reconnectionDelay: 100, reconnectionDelayMax: 400}, opts || {});
    if (opts.parser === 'msgpack') opts.parser = window.msgpackParser;
    var socket = io(url, opts);
    h.sockets[name] = socket;
    h.events[name] = [];
    socket.on('connect', function () {
      record(name, 'connect', [socket.id, socket.io.engine.id, socket.io.engine.transport.name]);
    });
    socket.on('disconnect', function (reason) { record(name, 'disconnect', [reason]); });
    socket.on('connect_error', function (err) {
      record(name, 'connect_error', [err && err.message, err && err.data]);
    });
    socket.onAny(function () {
      record(name, 'event', Array.prototype.slice.call(arguments));
    });
    // server -> browser call(): answer with whatever the spec configured, plus what was asked
    socket.on('question', function (question, ack) {
      ack({asked: question, answer: h.answers[name]});
    });
    return new Promise(function (resolve, reject) {
      function onConnect() { cleanup(); resolve(h.info(name)); }
      function onError(err) {
        cleanup();
        reject(new Error(JSON.stringify({message: err && err.message, data: err && err.data})));
      }
      function cleanup() {
        socket.off('connect', onConnect);
        socket.off('connect_error', onError);
      }
      socket.on('connect', onConnect);
      socket.on('connect_error', onError);
    });
  };

  // Like open(), but resolves with the first connect_error ({message, data}) instead.
  h.openExpectingError = function (name, url, opts) {
    return h.open(name, url, Object.assign({reconnection: false}, opts || {})).then(
      function (info) { return {connected: true, info: info}; },
      function (err) { return {connected: false, error: JSON.parse(err.message)}; }
    );
  };

  h.info = function (name) {
    var socket = h.sockets[name];
    var engine = socket.io.engine;
    return {
      id: socket.id,
      connected: socket.connected,
      engineId: engine ? engine.id : null,
      transport: engine && engine.transport ? engine.transport.name : null,
    };
  };

  // Resolves once the engine has settled on websocket (upgrade done) or rejects after ms.
  h.waitForTransport = function (name, transport, ms) {
    var socket = h.sockets[name];
    return new Promise(function (resolve, reject) {
      var deadline = Date.now() + (ms || 5000);
      (function poll() {
        var engine = socket.io.engine;
        if (engine && engine.transport && engine.transport.name === transport && !engine.upgrading) {
          return resolve(h.info(name));
        }
        if (Date.now() > deadline) return reject(new Error('transport is still ' + (engine && engine.transport && engine.transport.name)));
        setTimeout(poll, 20);
      })();
    });
  };

  // Emit with an ack; resolves with the ack's arguments (an array), rejects after ms.
  h.call = function (name, event, args, ms) {
    var socket = h.sockets[name];
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        reject(new Error('no ack for ' + event + ' within ' + (ms || 5000) + ' ms'));
      }, ms || 5000);
      socket.emit.apply(socket, [event].concat(args || [], [function () {
        clearTimeout(timer);
        resolve(Array.prototype.slice.call(arguments));
      }]));
    });
  };

  h.emit = function (name, event, args) {
    var socket = h.sockets[name];
    socket.emit.apply(socket, [event].concat(args || []));
  };

  // Resolves with the first recorded entry (at index >= from) matching type and event name.
  h.waitForEvent = function (name, type, eventName, from, ms) {
    return new Promise(function (resolve, reject) {
      var deadline = Date.now() + (ms || 5000);
      (function poll() {
        var list = h.events[name] || [];
        for (var i = from || 0; i < list.length; i++) {
          var e = list[i];
          if (e.type === type && (eventName == null || e.args[0] === eventName)) {
            return resolve({index: i, args: e.args});
          }
        }
        if (Date.now() > deadline) {
          return reject(new Error('no ' + type + ' ' + (eventName || '') + ' on ' + name + ' within ' + (ms || 5000) + ' ms; saw ' + safeJson(list.map(function (x) { return x.type + ':' + safeJson(x.args[0]); }))));
        }
        setTimeout(poll, 10);
      })();
    });
  };

  h.count = function (name, type, eventName) {
    return (h.events[name] || []).filter(function (e) {
      return e.type === type && (eventName == null || e.args[0] === eventName);
    }).length;
  };

  h.close = function (name) {
    if (h.sockets[name]) h.sockets[name].disconnect();
  };

  h.closeAll = function () {
    Object.keys(h.sockets).forEach(h.close);
  };

  // Deterministic bytes: i-th byte is (i * 31 + seed) & 255.
  h.bytes = function (length, seed) {
    var out = new Uint8Array(length);
    for (var i = 0; i < length; i++) out[i] = (i * 31 + (seed || 7)) & 255;
    return out;
  };

  // Compare something received (ArrayBuffer, typed array, Node-style Buffer JSON) with expected bytes.
  h.sameBytes = function (received, expected) {
    var view;
    if (received instanceof ArrayBuffer) view = new Uint8Array(received);
    else if (ArrayBuffer.isView(received)) view = new Uint8Array(received.buffer, received.byteOffset, received.byteLength);
    else return {ok: false, why: 'not binary: ' + Object.prototype.toString.call(received)};
    if (view.length !== expected.length) return {ok: false, why: 'length ' + view.length + ' != ' + expected.length};
    for (var i = 0; i < view.length; i++) {
      if (view[i] !== expected[i]) return {ok: false, why: 'byte ' + i + ' differs'};
    }
    return {ok: true, kind: Object.prototype.toString.call(received), length: view.length};
  };

  window.h = h;
})();
