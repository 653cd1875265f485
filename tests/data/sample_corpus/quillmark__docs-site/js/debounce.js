/**
 * Small timing helpers shared by the site scripts.
 *
 * debounce(fn, wait): call fn once the calls have stopped for `wait` ms.
 * throttle(fn, wait): call fn at most once every `wait` ms (leading edge).
 */
(function (root) {
  "use strict";

  function debounce(fn, wait) {
    var timer = null;
    function debounced() {
      var context = this;
      var args = arguments;
      if (timer !== null) {
        clearTimeout(timer);
      }
      timer = setTimeout(function () {
        timer = null;
        fn.apply(context, args);
      }, wait);
    }
    debounced.cancel = function () {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
    };
    return debounced;
  }

  function throttle(fn, wait) {
    var last = 0;
    return function throttled() {
      var now = Date.now();
      if (now - last >= wait) {
        last = now;
        return fn.apply(this, arguments);
      }
      return undefined;
    };
  }

  root.quillDebounce = debounce;
  root.quillThrottle = throttle;
  if (typeof module === "object" && module.exports) {
    module.exports = { debounce: debounce, throttle: throttle };
  }
})(typeof window !== "undefined" ? window : globalThis);
