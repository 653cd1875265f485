// Mobile navigation toggle and active-section highlighting for the landing page.
(function () {
  "use strict";

  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("main-nav");
  var links = nav ? Array.prototype.slice.call(nav.querySelectorAll("a[href^='#']")) : [];

  function setOpen(open) {
    nav.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  }

  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      setOpen(!nav.classList.contains("open"));
    });
    links.forEach(function (link) {
      link.addEventListener("click", function () {
        setOpen(false);
      });
    });
  }

  function currentSection() {
    var best = null;
    links.forEach(function (link) {
      var target = document.querySelector(link.getAttribute("href"));
      if (target && target.getBoundingClientRect().top <= 80) {
        best = link;
      }
    });
    return best;
  }

  function highlight() {
    var active = currentSection();
    links.forEach(function (link) {
      link.classList.toggle("active", link === active);
    });
  }

  window.addEventListener("scroll", window.quillDebounce(highlight, 100), { passive: true });
  highlight();
})();
