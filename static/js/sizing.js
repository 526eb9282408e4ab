// The sizing panel's button copies the suggested size (side, contracts, price) into the order ticket. It only
// fills the ticket: the trader still places the order there. No inline scripts (CSP): event delegation.
(function () {
  "use strict";
  function setValue(input, value) {
    if (!input) return;
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }
  function check(form, name, value) {
    var radio = form.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (radio && !radio.checked) {
      radio.checked = true;
      radio.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest && evt.target.closest("[data-size-copy]");
    if (!button) return;
    var form = document.querySelector("#ticket form");
    if (!form) return;
    check(form, "action", "buy");
    check(form, "outcome", button.dataset.outcome);
    setValue(form.querySelector('[name="price_cents"]'), button.dataset.priceCents);
    setValue(form.querySelector('[name="count"]'), button.dataset.count);
    var count = form.querySelector('[name="count"]');
    if (count) count.focus();
  });
})();
