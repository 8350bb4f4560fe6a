// A form with data-confirm asks before it is sent (instead of an inline onsubmit, which the
// Content-Security-Policy forbids).
document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
}, true);
