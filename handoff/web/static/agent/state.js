/* The console's shared mutable state: one object, changed in place by every module. */

export const state = {
  session: null, // {token, expires_at, agent} from the login
  agent: null, // welcome.agent: the account as the desk sees it now
  canned: [],
  teams: new Set(), // every team name the console has seen, for the transfer suggestions
  queue: new Map(), // handoff id -> handoff view
  held: new Map(), // handoff id -> held entry (see newEntry)
  selected: null, // {kind: 'queue' | 'held', id}
  shown: '', // "kind:id" of what the columns show now
  claiming: new Set(), // ids this console sent a claim for
  socket: null,
  attempt: 0, // reconnect attempts since the last welcome
  reconnectTimer: 0,
  welcomeTimer: 0,
  pingTimer: 0,
  tickTimer: 0,
  outstanding: [], // frames sent and not yet answered, oldest first (see request)
  closing: false, // the console closed the socket itself (log out)
  resyncing: false, // the console closed it to reconnect at once
  audio: null,
  slaLevels: new Map(), // "id:target" -> last SLA level seen
  slaAnnounced: new Set(), // "id:target:level" already notified
  ticking: new Set(), // {node, render(now)} redrawn every second
};
