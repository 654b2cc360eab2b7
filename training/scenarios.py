"""Compose the labelled bank-chat conversations of ``data/scenarios/`` (``handoff tune``'s input).

Run ``python -m training.scenarios`` to write ``data/scenarios/conversations.jsonl`` (the
``handoff replay`` contract) and ``data/scenarios/labels.jsonl`` (whether and when a person
should take over). Every customer line below was written for this set, in the words customers
use in a bank's chat rather than the phrases of the policy's risk list, so that the figures say
how the assistant and the engine do on real wording. A conversation is one of the lines of its
kind, placed after zero to two ordinary questions and followed, for the kinds where a handoff is
right, by what the customer says next, so that a late handoff shows as late rather than missed.

Composition is seeded: the same run writes the same files. Do not re-run it to "refresh" the set:
the split of ``data/scenarios/split.json`` is kept by conversation id, and changed text under an
old id would mean the recording and the labels no longer describe the same conversation.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "scenarios"
SEED = 20261203
TIERS = ("standard", "standard", "standard", "plus", "premium")

# --- ordinary questions the assistant answers (Banking77 topics, customers' own words) ---------
ROUTINE = [
    "my card still hasn't arrived",
    "when will my new card get here?",
    "how long does a transfer to another bank take?",
    "what exchange rate do you use for euros to dollars",
    "can I top up with a cheque?",
    "how do I change my pin",
    "is there a fee if I top up by card?",
    "which currencies can I hold in my account?",
    "how do I verify my identity",
    "why was I charged a fee at the cash machine?",
    "how old do you have to be to open an account",
    "can I get a virtual card for online shopping?",
    "where can I use my card abroad",
    "my transfer is still pending, is that normal?",
    "how do I activate the card I just got",
    "I forgot my passcode for the app",
    "can I pay in with apple pay?",
    "how do I order a physical card",
    "my top up hasn't gone through yet",
    "is there a limit on how much I can top up",
    "how can I send money to a friend",
    "what do I need to verify my top up?",
    "how do I get a refund for something I returned",
    "the card payment is still showing as pending",
    "can I change my address in the app?",
    "do you charge for receiving money from abroad",
    "how long until a refund shows up on my account",
    "what happens when my card expires?",
    "my pin is blocked, how do I unblock it",
    "can I have more than one card?",
    "I'd like to know the fee for an international transfer",
    "how do I cancel a transfer I just made",
    "why is my balance not updated after the transfer",
    "can I use my card in a cash machine in the US",
    "the atm didn't give me all the money I asked for",
    "how do I link my card to google pay",
    "is contactless available on my card",
    "what's the daily limit for cash withdrawals?",
    "how do I add a beneficiary",
    "can I get my salary paid into this account",
    "do you support disposable virtual cards",
    "how can I see my pin",
    "I'd like to top up by bank transfer, how does it work",
    "my card payment was declined at the supermarket",
    "how do I change the currency of my card",
    "what are the fees for exchanging money",
    "where does the money for top ups come from, can I use someone else's card",
    "I got charged twice for the same coffee",
    "is my card accepted everywhere?",
    "why do I need to verify the source of my funds",
]
OPENERS = ["hi", "hello", "hey there", "good morning", "hi, quick question"]
CLOSERS = ["thanks", "ok thank you", "great, cheers", "perfect, that's all", "ok got it", "thx"]
FOLLOW_UPS = [
    "and how long does that usually take?",
    "ok and is there a fee for that?",
    "can I do that in the app?",
    "what if it still doesn't work?",
]

# Ordinary questions in a bad mood: grumpy, impatient, swearing at the situation, not asking
# for anyone. The assistant can answer them, and a person would add nothing.
ROUTINE_NEGATIVE = [
    "ugh my card STILL hasn't arrived, how long does it take",
    "this app is so annoying, how do I change my pin",
    "why on earth is there a fee for topping up by card",
    "seriously, another fee at the cash machine? what is it for",
    "my transfer is taking forever, how long is it supposed to take",
    "so annoying, my top up is still pending",
    "I hate waiting for refunds, when will it show up",
    "the exchange rate you gave me was terrible, which rate do you use",
    "bloody card got declined again at the shop, why",
    "I'm not happy about paying to receive money from abroad, what's the fee",
    "this is a pain, how do I verify my identity",
    "why is everything so complicated, how do I add a beneficiary",
    "annoying that my balance hasn't updated yet after the transfer",
    "the app logged me out again and I forgot my passcode, great",
    "the cash machine only gave me half of what I asked for, what now",
    "ugh, how do I get a virtual card",
    "my pin is blocked again. how do I unblock it",
    "it's ridiculous how long cards take to arrive, where is mine",
    "why is my card payment still pending, it's been two days",
    "not impressed that I was charged twice for one purchase, how do I get it back",
    "the top up limit is way too low, what is it exactly",
    "frankly the fees for exchanging money are a rip off, how much are they",
    "I'm tired of this card expiring, what do I do when it does",
    "can't believe I have to verify the source of my funds, why",
    "honestly this is so slow, how long does a transfer to another bank take",
]
NEGATIVE_FOLLOW_UPS = ["fine.", "ok whatever", "right, thanks I guess", "ok", "fine, thanks"]

# Questions beyond a bank's chat, asked once, then back to banking or done.
OUT_OF_SCOPE = [
    "what's the weather like in Paris tomorrow?",
    "can you recommend a good pizza place",
    "who won the football last night",
    "tell me a joke",
    "what's the capital of Australia",
    "can you book me a train ticket to Lyon",
    "what time does the post office close",
    "how do I reset my wifi router",
    "do you know any good films on netflix",
    "what's 15% of 80",
]

# Banking needs the assistant does not serve, asked again in other words: nobody is helping.
OUT_OF_SCOPE_REPEATED = [
    (
        "can I get a mortgage with you?",
        "what rates do you offer for a home loan then",
        "so who can I talk to about borrowing for a house",
    ),
    (
        "do you do business accounts for a small shop",
        "I run a bakery, I need an account for it",
        "is there anywhere I can open one for my company",
    ),
    (
        "I want to invest some savings, what do you offer",
        "do you have a stocks and shares isa",
        "what about a savings account with interest",
    ),
    (
        "can I claim on my travel insurance here",
        "my suitcase was lost and the insurance is with you",
        "where do I send the insurance claim",
    ),
    (
        "I need a letter confirming my balance for my visa",
        "a bank reference letter for the embassy",
        "how do I get an official statement stamped",
    ),
    (
        "how do I set up a power of attorney for my mum's account",
        "she has dementia and I need to manage her money",
        "who deals with this",
    ),
    (
        "my father passed away, what do I do with his account",
        "I'm the executor of his estate",
        "what documents do you need",
    ),
    (
        "can I get an overdraft extension",
        "I'd like to borrow 2000 on my overdraft",
        "how do I apply for a bigger overdraft",
    ),
    (
        "can I open a joint account with my partner",
        "we want a shared account for bills",
        "is a joint account possible at all",
    ),
    (
        "I need to change the name on my account after getting married",
        "my surname changed, how do I update it",
        "where do I send my marriage certificate",
    ),
    (
        "do you offer credit cards",
        "I'd like a credit card with cashback",
        "how do I apply for credit",
    ),
    (
        "can I deposit cash at a branch",
        "where is your nearest branch",
        "I have 500 in cash to pay in, how",
    ),
    (
        "I need my tax certificate for last year",
        "the interest statement for my tax return",
        "where can I download tax documents",
    ),
    ("can you help me with a car loan", "I want to finance a used car", "any loans at all?"),
]

# Asking for a person, in many ways; the turn they ask is the turn to hand over.
REQUEST_HUMAN = [
    "can I talk to someone real please",
    "get me an agent",
    "is there an actual person I can chat with",
    "I'd rather speak to a human about this",
    "put me through to customer service",
    "I want to speak to somebody, not a bot",
    "can a member of staff call me back?",
    "connect me with a real person",
    "operator please",
    "is there anyone there who isn't a robot",
    "can I speak to an advisor",
    "I need to talk to your support team",
    "let me talk to a person",
    "could someone from the bank help me instead",
    "human please",
    "I don't want to chat with a machine, give me a person",
    "can I get a live agent",
    "transfer me to a representative",
    "is there a phone number where a real person answers",
    "I'd like a human to look at my case",
]

# Money or access at risk, mostly without the words "fraud", "scam" or "hacked".
SECURITY = [
    "there's a payment of 340 euros to a shop in Lisbon and I've never been there",
    "someone logged into my app from a phone that isn't mine",
    "I got a text saying my account is locked and I clicked the link and entered my details",
    "I think somebody has my card details, there are three payments I didn't make",
    "my phone was stolen this morning and the banking app is on it",
    "a man called pretending to be from the bank and I gave him the code from my text",
    "money left my account overnight and I didn't send it",
    "I didn't withdraw 200 from a cash machine yesterday but it's on my statement",
    "there's a direct debit to a company I've never heard of",
    "I got an email asking me to confirm my password, I did and now my balance is lower",
    "someone changed the email address on my account and it wasn't me",
    "I think I've been scammed, I sent money to someone selling a car online",
    "my wallet was stolen with my card in it",
    "there are online subscriptions on my card that I never signed up for",
    "I just got a notification of a payment I didn't make, right now",
    "my account was hacked, I can't log in anymore",
    "someone is using my card in another country while I'm at home",
    "I paid an invoice and it turns out the bank details were fake",
    "a stranger knows my account number and keeps trying to log in",
    "I got a one time code I never asked for, then a payment went out",
    "there's a transfer of 1500 to an account I don't know",
    "my card was used to withdraw cash in a city I've never been to",
]

# Frustration said in so many words.
FRUSTRATION_STATED = [
    "I'm really fed up with this, nothing works",
    "I am so frustrated right now, I've been trying to sort this for days",
    "this is driving me mad, I just want my money",
    "I'm absolutely furious, this is unacceptable",
    "I'm sick of this, every time I contact you it's the same",
    "honestly I'm at the end of my tether with this bank",
    "I'm so angry, my rent payment bounced because of you",
    "this is the worst service I've ever had, I'm livid",
    "I'm losing my patience, this should have been sorted weeks ago",
    "I'm beyond annoyed, your app keeps failing and I can't pay anyone",
    "I'm really upset, I was embarrassed at the till because my card didn't work",
    "I am extremely unhappy with how this has been handled",
    "I'm stressed out of my mind, my salary hasn't arrived and bills are due",
    "this is infuriating, I've answered the same questions over and over",
    "I'm done being polite, this is a disgrace",
    "I'm so disappointed, I've been a customer for 10 years and this is how I'm treated",
    "you are useless, I'm really angry now",
    "I'm fuming, the money was supposed to be there yesterday",
    "I can't take this anymore, nothing you say helps",
    "I'm really annoyed, you keep giving me the same answer",
]

# Frustration that shows in the facts rather than the words.
FRUSTRATION_IMPLIED = [
    "I've been waiting two weeks for this transfer and nobody tells me anything",
    "that's exactly what you told me last week and it still hasn't happened",
    "I've already done all of that twice and it's still not working",
    "my landlord is threatening to evict me because the payment never arrived",
    "I've now called, emailed and chatted and I still don't have my card",
    "that answer doesn't help me at all, I already know that",
    "I was told 3 days, it's been 12",
    "my card has been declined at every shop today and I have no other way to pay",
    "I have been stuck abroad without access to my money since Monday",
    "this is my fourth message about the same refund",
    "I did what you said and now the account is blocked too",
    "nobody has replied to my email from last month",
    "I've lost a whole morning on this and I'm no closer",
    "I can't buy food for my kids until this is fixed",
    "you said the refund would be back yesterday. it isn't.",
    "I've reset my passcode four times now and it still won't let me in",
    "my wages were due on Friday and they're still not in my account",
    "every time I ask I get a different answer",
    "why does nobody at this bank know what's going on",
    "that link you sent doesn't work, neither did the last one",
]

# Saying the opposite of what they mean.
SARCASM = [
    "oh great, another week without my card, fantastic service",
    "wow, thanks so much for the super helpful answer",
    "brilliant, so my money just vanished. love it",
    "perfect, declined again. really great bank you are",
    "amazing how you manage to lose a transfer every single month",
    "oh sure, I'll just wait another fortnight, no problem at all",
    "wonderful, the app crashed again right when I needed it. well done",
    "thanks for nothing, really helpful as always",
    "yeah because waiting ten days for a refund is totally normal",
    "great job charging me twice, really impressive",
    "oh lovely, another fee. you really know how to treat customers",
    "fantastic, I'm stuck at the airport with no money, thanks a lot",
    "so helpful. not.",
    "well that's just perfect, the card arrived broken",
    "cool cool, so nobody actually knows where my money is",
    "sure, let me just ask the same question for the fifth time, it's fun",
    "oh what a surprise, the transfer failed again",
    "love being told to check the app when the app is the problem",
    "best bank ever, can't even pay for my groceries",
    "yay, locked out of my account again. great start to the day",
]

# Three or four turns that start calm and end angry: the right moment is the end.
RISING = [
    (
        "when will my refund show up?",
        "it's been more than a week now though",
        "this is getting really annoying, I need that money",
        "I'm seriously angry now, where is it",
    ),
    (
        "my transfer hasn't arrived yet",
        "it was sent on Monday, today is Thursday",
        "that's not good enough, the person is waiting for it",
        "this is ridiculous, I'm fed up",
    ),
    (
        "hi, my card was declined",
        "it happened again just now",
        "and again. what is going on",
        "I'm standing at the till like an idiot, this is unacceptable",
    ),
    (
        "my top up didn't work",
        "I tried again and it still failed",
        "I've tried three cards now, nothing works",
        "I'm so frustrated, I need to pay my bills",
    ),
    (
        "where is my new card",
        "you said it would be here by Friday",
        "still nothing today, I have no card to use",
        "honestly, this is appalling service",
    ),
    (
        "why is my balance wrong",
        "it's missing the money I paid in yesterday",
        "I need it to pay rent tomorrow",
        "I'm getting really worried and angry about this",
    ),
    (
        "I was charged a fee I don't understand",
        "nobody told me about this fee",
        "that's not what your website says",
        "I feel cheated, this is really upsetting",
    ),
    (
        "my pin doesn't work",
        "I'm sure I typed it right",
        "now the card is blocked",
        "great, now I can't get any cash at all, this is a disaster",
    ),
    (
        "the exchange rate looks off",
        "I got far fewer dollars than I expected",
        "that's a lot of money to lose",
        "I'm really annoyed, you've ripped me off",
    ),
    (
        "my cash withdrawal is still pending",
        "the machine didn't even give me the money",
        "so the money is gone and I don't have it",
        "this is outrageous, give me my money back",
    ),
    (
        "I can't verify my identity",
        "the app keeps rejecting my passport photo",
        "I've tried ten times now",
        "I'm losing my mind with this app",
    ),
    (
        "a payment I made was reverted",
        "the shop says they never got it",
        "so now I have to pay twice?",
        "this is absolutely unacceptable",
    ),
    (
        "how long do refunds take?",
        "the shop refunded me 10 days ago",
        "that's much longer than you said",
        "I'm really fed up waiting, it's my money",
    ),
    (
        "my transfer got declined",
        "the details are definitely correct",
        "I tried again and it's declined again",
        "this is so stressful, it's for my rent",
    ),
]
RISING_SHORT = [  # three turns: the third is the moment
    ("my refund isn't showing", "it's been two weeks", "I'm really angry about this now"),
    ("my card got declined", "again just now", "this is humiliating, sort it out"),
    ("my transfer is pending", "for five days now", "this is totally unacceptable"),
    ("the app won't let me log in", "still not working", "I'm so fed up, I need my account"),
    (
        "my salary isn't in my account",
        "my employer says they sent it",
        "I'm panicking, I have bills going out today",
    ),
    ("I was charged twice", "both payments are still there", "I'm furious, give me my money back"),
    ("my card hasn't come", "it's been three weeks", "this is a joke, I'm so annoyed"),
    ("the cash machine kept my card", "I'm abroad", "I'm stuck with no money, this is awful"),
]

# Complaints: the customer wants it on record, or wants someone to answer for it.
COMPLAINT = [
    "I want to make a complaint about how I was treated",
    "I'd like to file a complaint about the fees you charged me",
    "how do I complain about a member of your staff",
    "I want to raise a formal complaint about my blocked account",
    "I'm not happy with the service and I want it escalated",
    "I want this complaint recorded, you lost my money for two weeks",
    "who do I write to about a complaint",
    "I want compensation for the charges I had because of your mistake",
    "I'm going to report you to the financial ombudsman",
    "I want to complain, your advisor was rude to me on the phone",
    "I'd like to speak to a manager about the way my case was handled",
    "this has cost me money and I expect you to put it right",
    "I want to lodge a complaint about the declined payments",
    "I'll be taking this further, I want a reference number for my complaint",
    "how do I escalate this? I'm not accepting this answer",
    "I demand an explanation and an apology",
    "my complaint from last month was never answered, I want it looked at",
    "I want to dispute how you handled my refund and make it official",
    "I'm talking to my lawyer about this",
    "your mistake cost me a late payment fee, I want you to refund it",
]

# The customer is leaving or thinking of it.
CHURN = [
    "I want to close my account",
    "how do I move all my money to another bank",
    "I'm thinking of leaving, to be honest",
    "I've had enough, I'm taking my business elsewhere",
    "what do I need to do to shut down my account",
    "I'm switching to another bank next month",
    "please cancel my account and send me the balance",
    "I don't want to be a customer anymore",
    "another bank offered me a better deal, why should I stay",
    "how do I terminate my account",
    "I'd like to end my relationship with the bank",
    "I'm going to withdraw everything and leave",
    "can you close everything down for me, I'm done",
    "I opened an account somewhere else, how do I close this one",
    "I'm seriously considering moving my salary to a different bank",
    "is there a fee for closing my account? I want out",
    "my partner and I are moving our savings elsewhere",
    "I'll be leaving unless this gets sorted today",
    "delete my account please",
    "I've been with you 8 years but I'm ready to go",
]

# Money trouble: the customer needs a person with options, not an FAQ.
HARDSHIP = [
    "I lost my job and I can't pay back my overdraft",
    "I'm struggling to pay my bills this month, can you help",
    "I've got debts building up and I don't know what to do",
    "my direct debits are going to bounce, I have no money until next month",
    "I'm in financial difficulty since my divorce",
    "I can't afford the repayments anymore",
    "I've been ill and off work, I can't cover my rent",
    "is there any way to pause my payments, I'm really struggling",
    "I'm behind on everything and the fees keep piling up",
    "I need help, I can't make ends meet",
    "my hours were cut and I'm going overdrawn every month",
    "I'm worried I'll lose my home, I can't pay",
    "I've had a bereavement and I can't deal with the money side right now",
    "the charges for going overdrawn are making it impossible to catch up",
    "I have nothing left after rent, can you stop the fees",
    "I'm a carer and money is really tight, are there any options",
    "I've been made redundant, what happens to my account",
    "I can't feed my family this week",
    "bailiffs are coming next week and I don't know what to do",
    "I'm drowning in debt and my account is overdrawn",
]
AFTER = ["hello?", "are you there?", "please", "can you help or not", "I'm waiting"]


@dataclass(frozen=True)
class Scenario:
    """A conversation with its label."""

    conversation_id: str
    account_tier: str
    messages: list[str]
    escalate: bool
    turns: tuple[int, int] | None
    kind: str
    why: str

    def conversation(self) -> dict[str, object]:
        """The ``handoff replay`` line."""
        return {
            "conversation_id": self.conversation_id,
            "account_tier": self.account_tier,
            "messages": self.messages,
        }

    def label(self) -> dict[str, object]:
        """The label line."""
        return {
            "conversation_id": self.conversation_id,
            "escalate": self.escalate,
            "turns": None if self.turns is None else list(self.turns),
            "kind": self.kind,
            "why": self.why,
        }


def _lead(rng: random.Random) -> list[str]:
    """Zero to two ordinary turns before the one that matters."""
    roll = rng.random()
    if roll < 0.35:
        return []
    if roll < 0.7:
        return [rng.choice(OPENERS)] if rng.random() < 0.5 else [rng.choice(ROUTINE)]
    return [rng.choice(OPENERS), rng.choice(ROUTINE)]


def _stay(kind: str, idx: int, rng: random.Random, messages: list[str], why: str) -> Scenario:
    return Scenario(f"{kind}-{idx:03d}", rng.choice(TIERS), messages, False, None, kind, why)


def _moment(
    kind: str, idx: int, rng: random.Random, line: str, why: str, *, slack: int
) -> Scenario:
    """A conversation whose line ``line`` is the moment to hand over (up to ``slack`` later)."""
    lead = _lead(rng)
    messages = [*lead, line, rng.choice(AFTER)]
    at = len(lead) + 1
    return Scenario(
        f"{kind}-{idx:03d}", rng.choice(TIERS), messages, True, (at, at + slack), kind, why
    )


def compose(seed: int = SEED) -> list[Scenario]:
    """Every scenario, in a fixed order."""
    rng = random.Random(seed)
    out: list[Scenario] = []
    for i in range(45):
        questions = rng.sample(ROUTINE, rng.choice((1, 1, 2)))
        messages = ([rng.choice(OPENERS)] if rng.random() < 0.4 else []) + questions
        if rng.random() < 0.3:
            messages.append(rng.choice(FOLLOW_UPS))
        if rng.random() < 0.5:
            messages.append(rng.choice(CLOSERS))
        why = "tier-1 questions the assistant answers"
        out.append(_stay("routine", i, rng, messages[:3], why))
    for i, line in enumerate(ROUTINE_NEGATIVE + rng.sample(ROUTINE_NEGATIVE, 10)):
        messages = [line] + ([rng.choice(NEGATIVE_FOLLOW_UPS)] if rng.random() < 0.6 else [])
        if rng.random() < 0.3:
            messages.insert(0, rng.choice(OPENERS))
        why = "an ordinary question in a bad mood; the answer is all they need"
        out.append(_stay("routine_negative", i, rng, messages, why))
    for i in range(25):
        messages = [rng.choice(OUT_OF_SCOPE)]
        if rng.random() < 0.6:
            messages.append(rng.choice(ROUTINE))
        if rng.random() < 0.4:
            messages.append(rng.choice(CLOSERS))
        why = "one question off topic, then banking the assistant does, or nothing"
        out.append(_stay("out_of_scope_once", i, rng, messages, why))
    for i, (first, second, third) in enumerate(OUT_OF_SCOPE_REPEATED * 2):
        lead = [rng.choice(OPENERS)] if i >= len(OUT_OF_SCOPE_REPEATED) else []
        messages = [*lead, first, second, third]
        at = len(lead) + 2
        out.append(Scenario(
            f"out_of_scope_repeated-{i:03d}", rng.choice(TIERS), messages, True, (at, at + 1),
            "out_of_scope_repeated",
            "a banking need the assistant does not serve, asked again: only a person can help",
        ))  # fmt: skip
    groups = [
        ("request_human", REQUEST_HUMAN, 0, "asked for a person"),
        ("security", SECURITY, 0, "money or access at risk: a person must act now"),
        ("frustration_stated", FRUSTRATION_STATED, 1, "says plainly they are at the end of it"),
        (
            "frustration_implied",
            FRUSTRATION_IMPLIED,
            1,
            "the facts show the assistant's answers are not solving it",
        ),
        ("sarcasm", SARCASM, 1, "sarcastic: fed up, whatever the words"),
        ("complaint", COMPLAINT, 0, "a complaint must reach a person and be recorded"),
        ("churn", CHURN, 0, "leaving or thinking of it: a retention conversation"),
        ("hardship", HARDSHIP, 0, "financial difficulty: a person with options and care"),
    ]
    for kind, lines, slack, why in groups:
        extra = rng.sample(lines, 4)
        for i, line in enumerate(lines + extra):
            out.append(_moment(kind, i, rng, line, why, slack=slack))
    for i, turns in enumerate(RISING + RISING_SHORT):
        messages = list(turns)
        last = len(messages)

        # Four turns: the third or the fourth; three turns: the third.
        first = 3
        out.append(Scenario(
            f"rising-{i:03d}", rng.choice(TIERS), messages, True, (first, last), "rising",
            "calm at first, angry by the end: time for a person once it boils over",
        ))  # fmt: skip
    return out


def write(scenarios: list[Scenario], folder: Path) -> None:
    """Write ``conversations.jsonl`` and ``labels.jsonl`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "conversations.jsonl").open("w", encoding="utf-8") as conversations:
        conversations.writelines(json.dumps(s.conversation()) + "\n" for s in scenarios)
    with (folder / "labels.jsonl").open("w", encoding="utf-8") as labels:
        labels.writelines(json.dumps(s.label()) + "\n" for s in scenarios)


def main() -> None:
    """Compose and write the scenarios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    scenarios = compose()
    write(scenarios, args.out)
    print(f"wrote {len(scenarios)} conversations to {args.out}")


if __name__ == "__main__":
    main()
