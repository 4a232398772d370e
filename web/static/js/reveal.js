/*
 * TAP Portal one-time reveal link. Loaded by the reveal page only; no
 * inline handlers (the CSP is script-src 'self').
 *
 * The link is /reveal/<id>#<key>. Browsers never send the fragment, so the
 * key stays here: the server keeps only the ciphertext, which it hands out
 * once, on the button's POST, and forgets in the same step. The format is
 * internal/reveal's:
 *
 *   key         32 bytes, base64url without padding (43 characters)
 *   ciphertext  AES-256-GCM of the passcode's UTF-8 bytes, 16-byte tag
 *               appended, with the link id's bytes as additional data
 *   nonce       12 bytes
 *   check       the first 16 bytes of HMAC-SHA256 keyed with the key's
 *               bytes, over CHECK_LABEL then the link id, base64url
 *               without padding (22 characters)
 *
 * The key's form is checked before anything is asked of the server, so a
 * link cut short by a mail client costs nothing: the page says so and the
 * link still works once opened whole. A key of the right form with a
 * character changed cannot be told from the right one here; the POST
 * carries the key check, which the server compares with the one it kept,
 * and a wrong one takes nothing: the page says the link is damaged and
 * the whole link still works. The fragment leaves the address bar and the
 * history entry as soon as the key is read, whether the passcode is ever
 * shown or not; the key stays in memory only, and goes after a reveal.
 */
(function () {
  'use strict';

  var KEY_BYTES = 32;
  var NONCE_BYTES = 12;
  var CHECK_BYTES = 16;
  // CHECK_LABEL comes before the link id in what the key check signs:
  // internal/reveal's checkLabel.
  var CHECK_LABEL = 'tapportal reveal key check v1:';

  // base64url without padding to bytes; null unless s is the one
  // canonical spelling of exactly n bytes, as Go's strict decoder wants.
  function decode(s, n) {
    if (typeof s !== 'string' || s.length !== Math.ceil(n * 4 / 3) || !/^[A-Za-z0-9_-]*$/.test(s)) {
      return null;
    }
    var binary;
    try {
      binary = window.atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    } catch (err) {
      return null;
    }
    if (binary.length !== n) {
      return null;
    }
    var bytes = new Uint8Array(n);
    for (var i = 0; i < n; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    // Unused low bits of the last character must be zero.
    if (encode(bytes) !== s) {
      bytes.fill(0);
      return null;
    }
    return bytes;
  }

  // encode is decode's inverse: bytes to base64url without padding.
  function encode(bytes) {
    var binary = '';
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // keyFromFragment returns the key's bytes, or null when the fragment
  // holds none of the right form.
  function keyFromFragment() {
    var hash = window.location.hash;
    return decode(hash.charAt(0) === '#' ? hash.slice(1) : hash, KEY_BYTES);
  }

  // forgetFragment takes the key out of the address bar and the history
  // entry, so that neither a reload nor the back button carries it.
  function forgetFragment() {
    // An empty fragment ("#") leaves location.hash empty: the address
    // itself says whether there is one.
    if (window.location.href.indexOf('#') >= 0) {
      window.history.replaceState(null, '', window.location.pathname + window.location.search);
    }
  }

  // kindOf marks a character as the passcode page does (templates/spell.go).
  function kindOf(ch) {
    if (/^[0-9]$/.test(ch)) {
      return 'digit';
    }
    if (ch.toUpperCase() !== ch.toLowerCase()) {
      return ch === ch.toUpperCase() ? 'upper' : 'lower';
    }
    return 'symbol';
  }

  // showPasscode writes the passcode in groups of four, each character
  // marked by its kind, with text nodes only: nothing is parsed as markup.
  function showPasscode(target, code) {
    var chars = Array.from(code);
    var groups = [];
    for (var i = 0; i < chars.length; i += 4) {
      var group = document.createElement('span');
      group.className = 'pc-group';
      chars.slice(i, i + 4).forEach(function (ch) {
        var span = document.createElement('span');
        span.className = 'pc pc-' + kindOf(ch);
        span.textContent = ch;
        group.appendChild(span);
      });
      groups.push(group);
    }
    target.replaceChildren.apply(target, groups);
  }

  function announce(message) {
    var live = document.getElementById('live');
    if (live) {
      live.textContent = message;
    }
  }

  // localTimes writes the page's times in the reader's own zone and
  // language; the server wrote them in UTC or the zone it knew.
  function localTimes(root) {
    root.querySelectorAll('time[datetime][data-local]').forEach(function (el) {
      var t = new Date(el.getAttribute('datetime'));
      if (!isNaN(t.getTime())) {
        el.textContent = t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      }
    });
  }

  function localTime(iso) {
    var t = new Date(iso);
    return isNaN(t.getTime()) ? '' : t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  // refusalText says why the server gave nothing, in the reader's zone
  // where a time is involved.
  function refusalText(status, answer) {
    var at = answer && answer.at ? localTime(answer.at) : '';
    switch (answer && answer.state) {
      case 'revealed':
        if (at) {
          return 'This passcode was already revealed, at ' + at + '. It can be shown only once: if it was not you, tell your helpdesk now.';
        }
        break;
      case 'expired':
        if (at) {
          return 'This link expired at ' + at + '. Ask your helpdesk for a new one.';
        }
        break;
    }
    if (answer && typeof answer.message === 'string' && answer.message) {
      return answer.message;
    }
    return 'The portal answered ' + status + ': nothing was revealed. Reload the page and try again.';
  }

  function start() {
    localTimes(document);
    var box = document.getElementById('reveal');
    if (!box) {
      return;
    }
    var id = box.dataset.revealId || '';
    var button = document.getElementById('reveal-button');
    var intro = document.getElementById('reveal-intro');
    var shown = document.getElementById('reveal-shown');
    var passcode = document.getElementById('passcode');
    var message = document.getElementById('reveal-message');

    function say(text) {
      message.textContent = text;
      message.hidden = false;
    }

    // Read once, then out of the address bar and the history at once: a
    // link never revealed, or damaged, must leave no key for a reload,
    // the back button or the next person at this browser. The link as
    // sent is still in the message it came in.
    var raw = keyFromFragment();
    forgetFragment();
    if (!raw) {
      say('This link is incomplete: ask for it again.');
      return;
    }
    if (!window.crypto || !window.crypto.subtle || typeof window.fetch !== 'function') {
      raw.fill(0);
      say('This browser cannot decrypt the passcode. Open the link in an up-to-date browser; nothing was revealed.');
      return;
    }

    // The key as WebCrypto holds it, imported twice: for AES-GCM, to
    // decrypt, and for HMAC, to sign the key check the server asks for.
    // Neither is extractable, and the bytes they came from are cleared
    // once both are made. The HMAC key is dropped once the check is
    // signed; the AES key stays only until the reveal settles.
    var subtle = window.crypto.subtle;
    var key = null;
    var check = null;
    var keyReady = Promise.all([
      subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['decrypt']),
      subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    ]).then(function (keys) {
      raw.fill(0);
      raw = null;
      return subtle.sign('HMAC', keys[1], new TextEncoder().encode(CHECK_LABEL + id)).then(function (mac) {
        key = keys[0];
        check = encode(new Uint8Array(mac, 0, CHECK_BYTES));
      });
    }).catch(function () {
      if (raw) {
        raw.fill(0);
        raw = null;
      }
      key = null;
      check = null;
    });

    function done() {
      key = null;
      check = null;
      button.hidden = true;
    }

    // damaged: the server refused this key's check and kept the link, so
    // the link is not spent, only this copy of it damaged. The same key
    // would be refused again, so the button and the keys go.
    function damaged() {
      key = null;
      check = null;
      button.hidden = true;
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }

    function reveal() {
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      message.hidden = true;
      keyReady.then(function () {
        if (!key || !check) {
          throw new Error('unusable key');
        }
        return window.fetch('/reveal/' + encodeURIComponent(id), {
          method: 'POST',
          credentials: 'omit',
          cache: 'no-store',
          redirect: 'error',
          referrerPolicy: 'no-referrer',
          headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
          body: JSON.stringify({ check: check })
        }).then(function (resp) {
          return resp.json().catch(function () { return null; }).then(function (answer) {
            return { status: resp.status, ok: resp.ok, answer: answer };
          });
        }, function () {
          // The request never got an answer: the link may still work.
          say('The portal could not be reached. Check your connection and press the button again.');
          button.disabled = false;
          button.removeAttribute('aria-busy');
          return null;
        });
      }).then(function (reply) {
        if (!reply) {
          return;
        }
        if (!reply.ok) {
          if (reply.status === 404 || reply.status === 410) {
            done();
          } else if (reply.status === 409) {
            damaged();
          } else {
            button.disabled = false;
            button.removeAttribute('aria-busy');
          }
          say(refusalText(reply.status, reply.answer));
          return;
        }
        // The server has forgotten the passcode: whatever happens next,
        // this link is spent.
        var answer = reply.answer || {};
        var ciphertext = decode(answer.ciphertext || '', Math.floor((answer.ciphertext || '').length * 3 / 4));
        var nonce = decode(answer.nonce || '', NONCE_BYTES);
        var k = key;
        done();
        if (!ciphertext || !nonce || !k) {
          say('The portal\u2019s answer was damaged, and the passcode cannot be shown again. Ask your helpdesk for a new pass.');
          return;
        }
        return window.crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: new TextEncoder().encode(id), tagLength: 128 }, k, ciphertext).then(function (plain) {
          var bytes = new Uint8Array(plain);
          showPasscode(passcode, new TextDecoder().decode(bytes));
          bytes.fill(0);
          intro.hidden = true;
          shown.hidden = false;
          var copy = shown.querySelector('button[data-copy]');
          if (copy) {
            copy.hidden = !(navigator.clipboard && typeof navigator.clipboard.writeText === 'function');
          }
          passcode.focus();
          announce('Passcode shown.');
        }, function () {
          say('This link was damaged: the passcode could not be decrypted, and it cannot be shown again. Ask your helpdesk for a new pass.');
        });
      }).catch(function (err) {
        done();
        if (err && err.message === 'unusable key') {
          // Nothing was asked of the server: the link still works,
          // opened whole.
          say('This link is incomplete: ask for it again.');
          return;
        }
        say('The passcode could not be shown. Ask your helpdesk for a new pass.');
      });
    }

    button.hidden = false;
    button.addEventListener('click', reveal);
    // A page left (or kept in the back/forward cache) keeps no passcode.
    window.addEventListener('pagehide', function () {
      passcode.replaceChildren();
      key = null;
      check = null;
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
