// The Socket.IO browser harness: window.harness, called by specs through page.evaluate().
// Served by flask_socketio_testing.e2e.harness at /_socketio_harness/harness.js.
// Every socket gets a name; everything it sees is recorded in harness.events[name]:
// {type: 'connect' | 'disconnect' | 'connect_error' | 'event', args, at}.
// harness.client is {package, version} of the socket.io-client build the page loaded.
(function () {
  'use strict';

  var harness = {sockets: {}, events: {}, answers: {}, client: null};

  function log(line) {
    var el = document.getElementById('log');
    if (el) el.textContent += line + '\n';
  }

  function record(name, type, args) {
    harness.events[name].push({type: type, args: args, at: Date.now()});
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
  harness.open = function (name, url, opts) {
    opts = Object.assign({reconnectionDelay: 100, reconnectionDelayMax: 400}, opts || {});
    if (opts.parser === 'msgpack') opts.parser = window.msgpackParser;
    var socket = io(url, opts);
    harness.sockets[name] = socket;
    harness.events[name] = [];
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
      ack({asked: question, answer: harness.answers[name]});
    });
    return new Promise(function (resolve, reject) {
      function onConnect() { cleanup(); resolve(harness.info(name)); }
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
  harness.openExpectingError = function (name, url, opts) {
    return harness.open(name, url, Object.assign({reconnection: false}, opts || {})).then(
      function (info) { return {connected: true, info: info}; },
      function (err) { return {connected: false, error: JSON.parse(err.message)}; }
    );
  };

  harness.info = function (name) {
    var socket = harness.sockets[name];
    var engine = socket.io.engine;
    return {
      id: socket.id,
      connected: socket.connected,
      engineId: engine ? engine.id : null,
      transport: engine && engine.transport ? engine.transport.name : null,
    };
  };

  // Resolves once the engine has settled on websocket (upgrade done) or rejects after ms.
  harness.waitForTransport = function (name, transport, ms) {
    var socket = harness.sockets[name];
    return new Promise(function (resolve, reject) {
      var deadline = Date.now() + (ms || 5000);
      (function poll() {
        var engine = socket.io.engine;
        if (engine && engine.transport && engine.transport.name === transport && !engine.upgrading) {
          return resolve(harness.info(name));
        }
        if (Date.now() > deadline) return reject(new Error('transport is still ' + (engine && engine.transport && engine.transport.name)));
        setTimeout(poll, 20);
      })();
    });
  };

  // Emit with an ack; resolves with the ack's arguments (an array), rejects after ms.
  harness.call = function (name, event, args, ms) {
    var socket = harness.sockets[name];
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

  harness.emit = function (name, event, args) {
    var socket = harness.sockets[name];
    socket.emit.apply(socket, [event].concat(args || []));
  };

  // Resolves with the first recorded entry (at index >= from) matching type and event name.
  harness.waitForEvent = function (name, type, eventName, from, ms) {
    return new Promise(function (resolve, reject) {
      var deadline = Date.now() + (ms || 5000);
      (function poll() {
        var list = harness.events[name] || [];
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

  harness.count = function (name, type, eventName) {
    return (harness.events[name] || []).filter(function (e) {
      return e.type === type && (eventName == null || e.args[0] === eventName);
    }).length;
  };

  harness.close = function (name) {
    if (harness.sockets[name]) harness.sockets[name].disconnect();
  };

  harness.closeAll = function () {
    Object.keys(harness.sockets).forEach(harness.close);
  };

  // Deterministic bytes: i-th byte is (i * 31 + seed) & 255.
  harness.bytes = function (length, seed) {
    var out = new Uint8Array(length);
    for (var i = 0; i < length; i++) out[i] = (i * 31 + (seed || 7)) & 255;
    return out;
  };

  // Compare something received (ArrayBuffer, typed array, Node-style Buffer JSON) with expected bytes.
  harness.sameBytes = function (received, expected) {
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

  window.harness = harness;
})();
