/*
 * TAP Portal page behaviour. Dependency-free, no inline handlers: the CSP is
 * script-src 'self'. Every feature is an enhancement; pages work without it.
 *
 *   button[data-copy="#selector"]   copies the selected element's text
 *   input[name=tz]                  filled with the browser's IANA time zone
 *   form[data-confirm="question"]   asks before submitting
 *   form[data-once]                 its submit buttons are disabled once sent
 *                                   (the server is the guarantee: a repeat
 *                                   is answered from the first submission)
 *   [data-autofocus]                focused on load
 *   time[datetime][data-countdown]  kept current as "in 58 min"
 *   button[data-fill][data-value]   puts its value into the field data-fill names
 *   input[type=radio][data-reveals] shows the element it names only while checked
 *   button[data-download-once="#table"][data-filename]
 *                                   shown, and saves the table's data-csv cells
 *                                   as a CSV file, once: the file is built in
 *                                   the page and never comes from the server
 *
 * Content swapped in by htmx is enhanced too (htmx:load).
 */
(function () {
  'use strict';

  var COPIED_MS = 2000;
  var TZ_COOKIE = 'tz';
  var YEAR_SECONDS = 31536000;

  // Labels of buttons currently showing "Copied", so a second click inside
  // the two seconds neither stacks timers nor saves "Copied" as the label.
  var copyState = new WeakMap();

  function clipboardAvailable() {
    return Boolean(navigator.clipboard && typeof navigator.clipboard.writeText === 'function');
  }

  function announce(message) {
    var live = document.getElementById('live');
    if (!live) {
      return;
    }
    // Clear first so that the same message twice in a row is read again.
    live.textContent = '';
    window.setTimeout(function () {
      live.textContent = message;
    }, 50);
  }

  function flashButton(button, text, className) {
    var state = copyState.get(button);
    if (state) {
      window.clearTimeout(state.timer);
    } else {
      state = { nodes: Array.prototype.slice.call(button.childNodes) };
      copyState.set(button, state);
    }
    button.textContent = text;
    button.classList.add(className);
    state.timer = window.setTimeout(function () {
      button.replaceChildren.apply(button, state.nodes);
      button.classList.remove(className);
      copyState.delete(button);
    }, COPIED_MS);
  }

  function copyFrom(button) {
    var source = null;
    try {
      source = document.querySelector(button.dataset.copy);
    } catch (err) {
      // An invalid selector is a template bug; leave the page alone.
    }
    if (!source) {
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      flashButton(button, 'Copied', 'copied');
      announce('Copied to the clipboard');
    }, function () {
      flashButton(button, 'Copy failed', 'copy-failed');
      announce('Could not copy. Select the text and copy it by hand.');
    });
  }

  function initCopyButtons(root) {
    var available = clipboardAvailable();
    root.querySelectorAll('button[data-copy]').forEach(function (button) {
      // Templates may render the button hidden so that it only appears
      // where it can work.
      button.hidden = !available;
    });
  }

  function browserTimeZone() {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
      // IANA names only use these characters, all of them cookie-safe.
      return /^[A-Za-z0-9_+\-\/]+$/.test(zone) ? zone : '';
    } catch (err) {
      return '';
    }
  }

  function readCookie(name) {
    var prefix = name + '=';
    var cookies = document.cookie ? document.cookie.split('; ') : [];
    for (var i = 0; i < cookies.length; i++) {
      if (cookies[i].indexOf(prefix) === 0) {
        return cookies[i].slice(prefix.length);
      }
    }
    return null;
  }

  function rememberTimeZone(zone) {
    if (!zone || readCookie(TZ_COOKIE) === zone) {
      return;
    }
    var cookie = TZ_COOKIE + '=' + zone + '; Path=/; SameSite=Lax; Max-Age=' + YEAR_SECONDS;
    if (window.location.protocol === 'https:') {
      cookie += '; Secure';
    }
    document.cookie = cookie;
  }

  function fillTimeZoneInputs(root, zone) {
    if (!zone) {
      return;
    }
    root.querySelectorAll('input[name="tz"]').forEach(function (input) {
      input.value = zone;
    });
  }

  function autofocus(root) {
    var el = root.matches && root.matches('[data-autofocus]') ? root : root.querySelector('[data-autofocus]');
    if (!el) {
      return;
    }
    // Headings and alerts are not focusable by default; make them focusable
    // by script only, so they do not join the tab order.
    if (!el.hasAttribute('tabindex') && el.tabIndex < 0) {
      el.setAttribute('tabindex', '-1');
    }
    el.focus();
  }

  // "in 58 min" as Go's countdown() writes it, from the browser's clock.
  function countdownText(ms) {
    var minutes = Math.round(ms / 60000);
    if (minutes <= 0) {
      return 'now';
    }
    if (minutes < 60) {
      return 'in ' + minutes + ' min';
    }
    var hours = Math.floor(minutes / 60);
    return 'in ' + hours + ' h' + (minutes % 60 ? ' ' + (minutes % 60) + ' min' : '');
  }

  function initCountdowns(root) {
    var els = root.querySelectorAll('time[datetime][data-countdown]');
    if (!els.length) {
      return;
    }
    function tick() {
      els.forEach(function (el) {
        var end = new Date(el.getAttribute('datetime')).getTime();
        if (!isNaN(end)) {
          el.textContent = countdownText(end - Date.now());
        }
      });
    }
    tick();
    window.setInterval(tick, 15000);
  }

  // One-click reasons: shown once the script can fill them in.
  function initQuickFill(root) {
    root.querySelectorAll('.quick-reasons[hidden]').forEach(function (group) {
      group.hidden = false;
    });
  }

  // The scheduled start shows only while "At a scheduled time" is chosen.
  function initReveals(root) {
    root.querySelectorAll('input[type=radio][data-reveals]').forEach(function (radio) {
      var target = document.querySelector(radio.dataset.reveals);
      if (!target || !radio.form) {
        return;
      }
      var sync = function () {
        target.hidden = !radio.checked;
      };
      radio.form.querySelectorAll('input[type=radio][name="' + radio.name + '"]').forEach(function (r) {
        r.addEventListener('change', sync);
      });
      sync();
    });
  }

  function initDownloads(root) {
    root.querySelectorAll('button[data-download-once][hidden]').forEach(function (button) {
      button.hidden = false;
    });
  }

  // csvField quotes a field, and defuses one a spreadsheet would read as a
  // formula, unless raw (a passcode must stay exactly as it is).
  function csvField(text, raw) {
    var s = text.trim();
    if (!raw && /^[=+\-@\t\r]/.test(s)) {
      s = "'" + s;
    }
    return /[",\r\n']/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function downloadOnce(button) {
    var table = document.querySelector(button.dataset.downloadOnce);
    if (!table || button.dataset.done === 'true') {
      return;
    }
    button.dataset.done = 'true';
    var lines = [];
    table.querySelectorAll('tr').forEach(function (tr) {
      var cells = [];
      tr.querySelectorAll('[data-csv]').forEach(function (cell) {
        cells.push(csvField(cell.dataset.csv || cell.textContent, cell.hasAttribute('data-csv-raw')));
      });
      lines.push(cells.join(','));
    });
    var url = URL.createObjectURL(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }));
    var link = document.createElement('a');
    link.href = url;
    link.download = button.dataset.filename || 'passcodes.csv';
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    button.disabled = true;
    button.setAttribute('aria-disabled', 'true');
    button.textContent = 'Downloaded: keep the file safe, and delete it once the passes are handed over';
    announce('Passcodes downloaded.');
  }

  function enhance(root, zone) {
    initCopyButtons(root);
    initCountdowns(root);
    initQuickFill(root);
    initReveals(root);
    initDownloads(root);
    fillTimeZoneInputs(root, zone);
    autofocus(root);
  }

  function onClick(event) {
    var target = event.target;
    var fill = target && target.closest ? target.closest('button[data-fill]') : null;
    if (fill) {
      var field = document.querySelector(fill.dataset.fill);
      if (field) {
        field.value = fill.dataset.value;
        field.focus();
      }
      return;
    }
    var download = target && target.closest ? target.closest('button[data-download-once]') : null;
    if (download) {
      downloadOnce(download);
      return;
    }
    var button = target && target.closest ? target.closest('button[data-copy]') : null;
    if (button && clipboardAvailable()) {
      event.preventDefault();
      copyFrom(button);
    }
  }

  // Runs in the capture phase, before htmx's own submit listener on the
  // form, so that a declined confirmation stops htmx requests as well.
  function onSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    if (form.hasAttribute('data-confirm') && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    if (form.hasAttribute('data-once')) {
      if (form.dataset.sent === 'true') {
        event.preventDefault();
        return;
      }
      form.dataset.sent = 'true';
      // Disabled after this event, so that the clicked button's own value
      // still goes with the form.
      window.setTimeout(function () {
        form.querySelectorAll('button[type=submit]').forEach(function (b) {
          b.disabled = true;
          b.setAttribute('aria-disabled', 'true');
        });
      }, 0);
    }
  }

  function start() {
    var zone = browserTimeZone();
    rememberTimeZone(zone);
    enhance(document, zone);

    document.addEventListener('click', onClick);
    document.addEventListener('submit', onSubmit, true);
    document.addEventListener('htmx:load', function (event) {
      // htmx also fires this for <body> at start-up; that was done above.
      if (event.target !== document.body) {
        enhance(event.target, zone);
      }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
