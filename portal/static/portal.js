// Copy buttons: <button data-copy="ID"> copies the value of the element ID.
// The portal works without this script; it only saves a selection.
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("button[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (!el) return;
  el.select();
  if (navigator.clipboard) {
    navigator.clipboard.writeText(el.value).then(function () { b.textContent = "Copied"; });
  }
});
