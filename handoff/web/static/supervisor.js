/*
 * Supervisor view: every team's live queue, agents' presence and load, SLA warnings and
 * breaches, today's escalations by reason. It reads GET /api/agents/overview every few
 * seconds with a supervisor's token (POST /api/agents/login); it opens no agent socket, so
 * watching never makes the supervisor eligible for auto-assigned chats.
 *
 * All data is rendered with textContent: nothing a customer or agent typed can become markup.
 *
 * Test hooks (data-testid): login-form, login-username, login-password, login-submit,
 * login-error, logout, connection-status, satisfaction, teams, team (data-team), queue-item
 * (data-handoff-id, data-severity), sla (data-sla-state), agents, agent-row (data-username),
 * presence (data-presence), sla-alerts, sla-alert (data-kind), escalations-total,
 * escalations-by-reason, reason-count (data-reason).
 */
(() => {
  "use strict";

  const POLL_MS = 3000;
  const TOKEN_KEY = "handoff.supervisor.token";
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY);
  let pollTimer = null;
  let latest = null; // the last overview, re-rendered by the countdown tick
  let clockOffsetMs = 0; // server time minus browser time, from generated_at

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
        node.setAttribute(key, value);
      } else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  }

  function setStatus(text) {
    document.querySelector("[data-testid=connection-status]").textContent = text;
  }

  function showLogin(message = "") {
    clearInterval(pollTimer);
    pollTimer = null;
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("board").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message;
    setStatus("");
    $("username").focus();
  }

  function showBoard() {
    $("login").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
    refresh();
    clearInterval(pollTimer);
    pollTimer = setInterval(refresh, POLL_MS);
  }

  async function logIn(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    const body = { username: $("username").value.trim(), password: $("password").value };
    let response;
    try {
      response = await fetch("/api/agents/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      $("login-error").textContent = "The service cannot be reached. Try again in a moment.";
      return;
    }
    if (response.status === 401) {
      $("login-error").textContent = "Unknown username or wrong password.";
      return;
    }
    if (!response.ok) {
      $("login-error").textContent = `Log-in failed (${response.status}).`;
      return;
    }
    const login = await response.json();
    if (login.agent.role !== "supervisor") {
      $("login-error").textContent = "This view is for supervisors; agents use /agent.";
      return;
    }
    token = login.token;
    sessionStorage.setItem(TOKEN_KEY, token);
    $("password").value = "";
    showBoard();
  }

  async function refresh() {
    let response;
    try {
      response = await fetch("/api/agents/overview", {
        headers: { Authorization: `Bearer ${token}` },
      });
    } catch {
      setStatus("Service unreachable; retrying…");
      return;
    }
    if (response.status === 401) return showLogin("Your session ended. Please log in again.");
    if (response.status === 403) return showLogin("This view is for supervisors.");
    if (!response.ok) {
      setStatus(`Overview failed (${response.status}); retrying…`);
      return;
    }
    latest = await response.json();
    clockOffsetMs = Date.parse(latest.generated_at) - Date.now();
    render(latest);
    setStatus(`Live · updated ${new Date().toLocaleTimeString()}`);
  }

  function render(overview) {
    renderTeams(overview.teams);
    renderAgents(overview.agents);
    renderAlerts(overview.sla_alerts);
    renderToday(overview.escalations_today);
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(Math.abs(seconds)));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = s % 60;
    if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
    return `${m}m ${String(rest).padStart(2, "0")}s`;
  }

  function slaText(item) {
    const left = (Date.parse(item.sla_due) - (Date.now() + clockOffsetMs)) / 1000;
    const what = item.sla_target === "resolve" ? "resolve" : "ack";
    return left >= 0 ? `${what} in ${duration(left)}` : `${what} overdue ${duration(left)}`;
  }

  function waitingText(item) {
    const waited = (Date.now() + clockOffsetMs - Date.parse(item.queued_at)) / 1000;
    return `waiting ${duration(waited)}`;
  }

  function queueItem(item) {
    const who = item.customer_name || "Anonymous customer";
    return el("li", { "data-testid": "queue-item", "data-handoff-id": item.id,
                      "data-severity": item.severity }, [
      el("div", { class: "line" }, [
        el("strong", { text: `${item.severity.toUpperCase()} · ${who}` }),
        el("span", { class: `badge ${item.tier}`, text: item.tier }),
      ]),
      el("div", { class: "line" }, [
        el("span", { text: `${item.category} · ${item.reasons.join(", ")}` }),
      ]),
      el("div", { class: "line" }, [
        el("span", { class: "waiting", text: waitingText(item) }),
        el("span", { class: "sla", "data-testid": "sla", "data-sla-state": item.sla_status,
                     "data-due": item.sla_due, "data-target": item.sla_target,
                     text: slaText(item) }),
      ]),
    ]);
  }

  function renderTeams(teams) {
    const cards = teams.map((team) => {
      const list = team.queued.length
        ? el("ol", { "aria-label": `${team.team} queue` }, team.queued.map(queueItem))
        : el("p", { class: "empty", text: "Nobody waiting." });
      const mode = team.routing === "auto_assign" ? "auto-assign" : "claim";
      return el("article", { class: "team", "data-testid": "team", "data-team": team.team }, [
        el("h3", {}, [el("span", { text: team.team }),
                      el("span", { text: `${team.queued.length} queued` })]),
        el("p", { class: "meta",
                  text: `${mode} · ${team.agents_online} agent(s) online · ` +
                        `${team.in_progress} in progress` }),
        list,
      ]);
    });
    $("teams").replaceChildren(...cards);
  }

  function renderAgents(agents) {
    const rows = agents.map((a) =>
      el("tr", { "data-testid": "agent-row", "data-username": a.username }, [
        el("td", {}, [el("strong", { text: a.name }),
                      ...(a.role === "supervisor"
                        ? [" ", el("span", { class: "badge", text: "supervisor" })] : [])]),
        el("td", { text: a.teams.join(", ") }),
        el("td", {}, [el("span", { class: "presence", "data-testid": "presence",
                                   "data-presence": a.presence, text: a.presence })]),
        el("td", {}, [el("span", { class: "load" }, [
          el("meter", { min: 0, max: a.capacity, value: a.active_chats,
                        "aria-label": `${a.active_chats} of ${a.capacity} chats` }),
          el("span", { text: `${a.active_chats}/${a.capacity}` }),
        ])]),
      ]));
    $("agents-body").replaceChildren(...rows);
  }

  function renderAlerts(alerts) {
    if (!alerts.length) {
      $("sla-alerts").replaceChildren(el("li", { class: "empty", text: "No warnings or breaches." }));
      return;
    }
    $("sla-alerts").replaceChildren(...alerts.map((a) => el("li", {
      "data-testid": "sla-alert", "data-kind": a.kind,
      text: `${a.kind === "breach" ? "Breach" : "Warning"}: ${a.target} · ` +
            `${a.severity.toUpperCase()} · ${a.team} · handoff #${a.handoff_id} · ` +
            new Date(a.at).toLocaleTimeString(),
    })));
  }

  function renderToday(today) {
    $("escalations-total").replaceChildren(
      el("span", { text: `${today.total} escalation${today.total === 1 ? "" : "s"}` }),
      el("small", { text: ` since ${new Date(today.since).toLocaleString()}` }));
    $("satisfaction").textContent = today.ratings
      ? `Customers' rating: ${today.average_rating.toFixed(1)} / 5 from ${today.ratings} ` +
        `rating${today.ratings === 1 ? "" : "s"}`
      : "No customer ratings yet today.";
    const entries = Object.entries(today.by_reason);
    if (!entries.length) {
      $("by-reason").replaceChildren(el("li", { class: "empty", text: "None yet today." }));
      return;
    }
    const most = Math.max(...entries.map(([, n]) => n));
    $("by-reason").replaceChildren(...entries.map(([reason, count]) => {
      const bar = el("span", { class: "bar", "aria-hidden": "true" });
      bar.style.width = `${(100 * count) / most}%`;
      return el("li", { "data-testid": "reason-count", "data-reason": reason }, [
        el("span", { text: reason }), el("span", { class: "track" }, [bar]),
        el("span", { class: "count", text: String(count) }),
      ]);
    }));
  }

  // Countdowns tick between polls without another request.
  function tick() {
    if (!latest || $("board").hidden) return;
    for (const node of document.querySelectorAll("[data-testid=sla][data-due]")) {
      node.textContent = slaText({ sla_due: node.dataset.due, sla_target: node.dataset.target });
    }
  }

  $("login-form").addEventListener("submit", logIn);
  $("logout").addEventListener("click", () => showLogin());
  setInterval(tick, 1000);
  if (token) showBoard();
  else showLogin();
})();
