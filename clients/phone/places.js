// What the phone knows about the doors of its wards: the households and activation records of
// the last pull, plus its own forms not yet pulled back (in the outbox, or sent). From it, the
// search ("which doors are done") and the warning before a second gift of one kind in one round.

import "./core.js";
import { fold } from "./ui.js";

const ws = globalThis.wardsync;

function blankHousehold(id) {
  return { id, address: null, org_unit: null, gifts: [], records: [], helps: 0, local: true };
}

export async function knowledge() {
  const [households, records, outbox, sent] = await Promise.all([
    ws.pulled("household"), ws.pulled("activation"), ws.getAll("outbox", "order"),
    ws.getAll("sent", "order"),
  ]);
  const byId = new Map();
  for (const h of households) {
    byId.set(h.id, { ...blankHousehold(h.id), ...h, gifts: [...(h.gifts || [])], local: false });
  }
  const house = (id) => {
    if (!byId.has(id)) byId.set(id, blankHousehold(id));
    return byId.get(id);
  };
  for (const r of records) {
    if (r.household_id) house(r.household_id).records.push(r);
  }
  // Our own forms: voids waiting to go out cancel their targets here already.
  const voided = new Set(outbox.filter((i) => i.form === "void").map((i) => i.data.target));
  for (const s of sent) if (s.voidedBy) voided.add(s.id);
  const local = [...outbox.map((i) => ({ ...i, where: "outbox" })),
    ...sent.map((s) => ({ ...s, where: "sent" }))];
  for (const item of local) {
    const data = item.data || {};
    if (!data.household_id || item.form === "void") continue;
    const h = house(data.household_id);
    if (data.household_address && (h.local || !h.address)) h.address = data.household_address;
    if (!h.org_unit) h.org_unit = item.org_unit;
    if (voided.has(item.id) || item.state === "rejected") continue;
    if (item.form === "gift") {
      h.localGifts = (h.localGifts || []).concat([{ ...data, campaign: item.campaign, id: item.id,
        where: item.where }]);
    } else if (item.form === "household_help") {
      h.helps += 1;
    } else if (item.form === "activation") {
      h.localRecords = (h.localRecords || []).concat([{ citizen_id: ws.mask(data.citizen_id),
        status: data.status, where: item.where }]);
    }
  }
  return { households: byId, records };
}

/**
 * A gift of this kind and round this household already has (counted or suspected, from the
 * last pull), or one of the phone's own not yet pulled back; null when there is none.
 */
export function earlierGift(k, { campaign, household_id, gift_kind, round }, exceptId = null) {
  const h = k.households.get(household_id);
  if (!h) return null;
  const pulledGift = h.gifts.find((g) => g.campaign === campaign && g.gift_kind === gift_kind &&
    g.round === round);
  if (pulledGift) return { ...pulledGift, source: "server" };
  const mine = (h.localGifts || []).find((g) => g.id !== exceptId && g.campaign === campaign &&
    g.gift_kind === gift_kind && g.round === round);
  return mine ? { ...mine, status: "counted", source: mine.where } : null;
}

/** Households (and records with no household) matching what was typed. */
export function search(k, query) {
  const q = fold(query).trim();
  const digits = q.replace(/\D/g, "");
  const matches = [];
  for (const h of k.households.values()) {
    const ids = [...h.records, ...(h.localRecords || [])].map((r) => r.citizen_id || "");
    const hit = !q || fold(h.address).includes(q) ||
      (digits.length >= 3 && ids.some((id) => id.endsWith(digits.slice(-3))));
    if (hit) matches.push({ kind: "household", ...h });
  }
  for (const r of k.records) {
    if (r.household_id) continue;
    if (!q || (digits.length >= 3 && (r.citizen_id || "").endsWith(digits.slice(-3)))) {
      matches.push({ kind: "record", ...r });
    }
  }
  matches.sort((a, b) => fold(a.address || a.citizen_id).localeCompare(fold(b.address || b.citizen_id)));
  return matches.slice(0, 200);
}
