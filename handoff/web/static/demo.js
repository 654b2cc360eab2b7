// The demo page plays the bank's website: it picks who is signed in and gets that
// customer's identity token signed by the service's demo endpoint. Loaded with `defer`
// before /widget.js (a file, not inline: the page's Content-Security-Policy allows no inline
// script), so both have run when DOMContentLoaded fires and HandoffChat exists by then.
(() => {
  const CHOICE_KEY = 'handoff-demo:customer';
  const ANONYMOUS = 'anonymous';
  const picker = document.getElementById('customer');
  const startButton = document.getElementById('start');
  const who = document.getElementById('who');
  const tiers = new Map(); // customer id -> {name, tier}

  function remembered() {
    try {
      return localStorage.getItem(CHOICE_KEY);
    } catch {
      return null; // storage disabled: every visit starts with the picker
    }
  }

  function remember(choice) {
    try {
      localStorage.setItem(CHOICE_KEY, choice);
    } catch {
      // Storage disabled: the chat works, a reload just asks again.
    }
  }

  function say(text, isError = false) {
    who.textContent = text;
    who.classList.toggle('error', isError);
  }

  async function loadCustomers() {
    const response = await fetch('/api/demo/customers');
    if (!response.ok) throw new Error(`demo customers: HTTP ${response.status}`);
    for (const customer of await response.json()) {
      tiers.set(customer.id, customer);
      const option = document.createElement('option');
      option.value = customer.id;
      option.textContent = `${customer.name} (${customer.tier})`;
      picker.append(option);
    }
  }

  async function identityToken(customerId) {
    const response = await fetch('/api/demo/identity-token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ customer_id: customerId }),
    });
    if (!response.ok) throw new Error(`identity token: HTTP ${response.status}`);
    return (await response.json()).token;
  }

  /** Sign in as `choice` and start the widget; `switching` forgets the last conversation. */
  async function begin(choice, switching) {
    startButton.disabled = true;
    try {
      if (switching) HandoffChat.reset();
      const token = choice === ANONYMOUS ? undefined : await identityToken(choice);
      HandoffChat.start({ identityToken: token });
      remember(choice);
      const customer = tiers.get(choice);
      say(customer
        ? `Signed in as ${customer.name}, ${customer.tier} tier.`
        : 'Chatting anonymously.');
      if (switching) HandoffChat.open();
    } catch (error) {
      say(`Could not start the chat: ${error.message}`, true);
    } finally {
      startButton.disabled = false;
    }
  }

  startButton.addEventListener('click', () => begin(picker.value, true));

  document.addEventListener('DOMContentLoaded', async () => {
    try {
      await loadCustomers();
    } catch (error) {
      say(`Demo customers are unavailable (${error.message}); `
        + 'you can still chat anonymously.', true);
    }
    const choice = remembered();
    if (choice && (choice === ANONYMOUS || tiers.has(choice))) {
      picker.value = choice;
      await begin(choice, false); // a reload carries on as the same customer
    }
  });
})();
