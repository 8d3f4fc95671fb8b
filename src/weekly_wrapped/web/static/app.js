// Weekly Wrapped: the little the pages need from script. Everything works without it,
// except the live progress bar (the page then shows the state when loaded).
"use strict";

function fillBrowserZone() {
  const field = document.querySelector("[data-browser-zone='fill']");
  if (!field) return;
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && (!field.value || field.value === "UTC")) field.value = zone;
  } catch (err) {
    // An old browser without time zone names: the field keeps its value.
  }
}

function followImport() {
  const status = document.getElementById("import-status");
  if (!status) return;
  const bar = document.getElementById("import-bar");
  const text = document.getElementById("import-text");
  const url = status.dataset.progressUrl;
  const show = (upload) => {
    bar.value = upload.percent;
    bar.textContent = upload.percent + "%";
    text.dataset.state = upload.state;
    if (upload.state === "running") {
      text.textContent = "File " + upload.file_number + " of " + upload.files + ": " +
        upload.rows.toLocaleString() + " rows read (" + upload.percent + "%)";
    } else if (upload.state === "done") {
      text.textContent = "Done: " + (upload.plays_added || 0).toLocaleString() +
        " new plays, " + (upload.duplicates || 0).toLocaleString() + " already there.";
    } else {
      text.textContent = "Failed: " + (upload.message || "unknown error");
    }
  };
  const poll = () => {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((answer) => (answer.ok ? answer.json() : Promise.reject(answer.status)))
      .then((upload) => {
        show(upload);
        if (upload.state === "running") setTimeout(poll, 500);
      })
      .catch(() => setTimeout(poll, 2000));
  };
  if (text.dataset.state === "running") poll();
}

document.addEventListener("DOMContentLoaded", () => {
  fillBrowserZone();
  followImport();
});
