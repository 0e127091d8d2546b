//! Tryton ↔ canonical, without I/O: amounts the way Tryton computes them, states in
//! Kontor's words, records into products and customers.

use std::collections::BTreeMap;

use kontor_connector::DraftLine;
use kontor_model::{Currency, Money, OrderStatus, TaxRate};
use rust_decimal::{Decimal, RoundingStrategy};

/// Tryton rounds money half to even (Python's `Decimal.quantize` default).
pub(crate) fn round(amount: Decimal, currency: Currency) -> Decimal {
    amount.round_dp_with_strategy(
        currency.minor_units(),
        RoundingStrategy::MidpointNearestEven,
    )
}

/// Sale line unit prices carry four decimals in Tryton (`price_decimal`).
const UNIT_PRICE_DIGITS: u32 = 4;

/// What Tryton makes of lines of net amounts: `(total, tax)`. Line amounts are rounded;
/// tax is rounded per document and rate (`document`) or per line (`line`), as the
/// accounting configuration's `tax_rounding` says.
pub(crate) fn predict_total(
    lines: &[(TaxRate, Decimal)],
    currency: Currency,
    per_line: bool,
) -> (Decimal, Decimal) {
    let mut untaxed = Decimal::ZERO;
    let mut by_rate: BTreeMap<TaxRate, Decimal> = BTreeMap::new();
    let mut tax = Decimal::ZERO;
    for (rate, amount) in lines {
        let amount = round(*amount, currency);
        untaxed += amount;
        if per_line {
            tax += round(amount * rate.percent() / Decimal::ONE_HUNDRED, currency);
        } else {
            *by_rate.entry(*rate).or_default() += amount;
        }
    }
    for (rate, base) in by_rate {
        tax += round(base * rate.percent() / Decimal::ONE_HUNDRED, currency);
    }
    (untaxed + tax, tax)
}

/// One draft line as Tryton takes it: net unit price (four decimals) for the quantity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NetLine {
    pub unit_price: Decimal,
    pub quantity: Decimal,
    pub rate: TaxRate,
}

impl NetLine {
    pub(crate) fn amount(&self, currency: Currency) -> Decimal {
        round(self.unit_price * self.quantity, currency)
    }
}

/// Turns draft lines into Tryton's net unit prices. Tryton prices exclude tax; when the
/// shop's prices include it, each rate's gross sum (each line's, when Tryton rounds tax
/// per line) is split into tax and net first, and the net spread over that rate's lines
/// (the remainder on the largest), so that the document adds up to the gross the
/// customer paid wherever Tryton's rounding allows.
pub(crate) fn net_lines(
    lines: &[DraftLine],
    prices_include_tax: bool,
    currency: Currency,
    per_line: bool,
) -> Vec<NetLine> {
    let amount = |l: &DraftLine| l.unit_price.amount * l.quantity - l.discount.amount;
    let unit = |total: Decimal, quantity: Decimal| {
        if quantity.is_zero() {
            Decimal::ZERO
        } else {
            (total / quantity)
                .round_dp_with_strategy(UNIT_PRICE_DIGITS, RoundingStrategy::MidpointNearestEven)
        }
    };
    if !prices_include_tax {
        return lines
            .iter()
            .map(|l| NetLine {
                unit_price: unit(amount(l), l.quantity),
                quantity: l.quantity,
                rate: l.tax_rate,
            })
            .collect();
    }
    let mut net: Vec<Decimal> = lines.iter().map(|l| round(amount(l), currency)).collect();
    let groups: Vec<Vec<usize>> = if per_line {
        (0..lines.len()).map(|i| vec![i]).collect()
    } else {
        let mut rates: Vec<TaxRate> = lines.iter().map(|l| l.tax_rate).collect();
        rates.sort();
        rates.dedup();
        rates
            .iter()
            .map(|rate| {
                (0..lines.len())
                    .filter(|&i| lines[i].tax_rate == *rate)
                    .collect()
            })
            .collect()
    };
    for members in groups {
        let rate = lines[members[0]].tax_rate;
        let gross: Decimal = members.iter().map(|&i| net[i]).sum();
        let target = net_for_gross(gross, rate, currency);
        // Each line's share, rounded; what rounding leaves goes to the largest line.
        let mut assigned = Decimal::ZERO;
        for &i in &members {
            let share = if gross.is_zero() {
                Decimal::ZERO
            } else {
                round(target * net[i] / gross, currency)
            };
            net[i] = share;
            assigned += share;
        }
        if let Some(&largest) = members.iter().max_by_key(|&&i| net[i].abs()) {
            net[largest] += target - assigned;
        }
    }
    lines
        .iter()
        .zip(net)
        .map(|(l, net)| NetLine {
            unit_price: unit(net, l.quantity),
            quantity: l.quantity,
            rate: l.tax_rate,
        })
        .collect()
}

/// The net amount whose Tryton gross (net + rounded tax) is `gross`: the textbook split,
/// nudged by a cent when rounding the tax would miss; the nearest when no net hits it.
fn net_for_gross(gross: Decimal, rate: TaxRate, currency: Currency) -> Decimal {
    let percent = rate.percent();
    let gross_of = |net: Decimal| net + round(net * percent / Decimal::ONE_HUNDRED, currency);
    let tax = round(gross * percent / (Decimal::ONE_HUNDRED + percent), currency);
    let first = gross - tax;
    let cent = Decimal::new(1, currency.minor_units());
    let candidates = [
        first,
        first - cent,
        first + cent,
        first - cent - cent,
        first + cent + cent,
    ];
    candidates
        .into_iter()
        .min_by_key(|&net| ((gross_of(net) - gross).abs(), (net - first).abs()))
        .unwrap_or(first)
}

/// A sale's status in Kontor's words, from Tryton's `state` and `shipment_state`.
/// `all_cancelled` tells a sale that was processed and then cancelled (its shipments and
/// invoices cancelled, the exceptions handled) from one that was completed.
pub(crate) fn sale_status(state: &str, shipment_state: &str, all_cancelled: bool) -> OrderStatus {
    match (state, shipment_state) {
        ("draft" | "quotation", _) => OrderStatus::Pending,
        ("cancelled", _) => OrderStatus::Cancelled,
        ("done", _) if all_cancelled => OrderStatus::Cancelled,
        ("done", _) => OrderStatus::Completed,
        (_, "sent") => OrderStatus::Shipped,
        (_, "partially shipped") => OrderStatus::PartiallyShipped,
        _ => OrderStatus::Processing,
    }
}

/// A category's full name (`Clothing / T-shirts`) as a path.
pub(crate) fn category_path(rec_name: &str) -> Vec<String> {
    rec_name
        .split(" / ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The option a variant differs by: its suffix code without leading separators.
pub(crate) fn variant_option(suffix: &str) -> String {
    suffix.trim_start_matches(['-', '_', '.', ' ']).to_owned()
}

/// Compacts a VAT id as Tryton may hold it (`PL 526-000-12-46`).
pub(crate) fn compact_vat(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_uppercase()
}

/// A search pattern finding a compact VAT id however Tryton's users spaced it.
pub(crate) fn vat_pattern(compact: &str) -> String {
    let mut pattern = String::from("%");
    for c in compact.chars() {
        pattern.push(c);
        pattern.push('%');
    }
    pattern
}

pub(crate) fn money(amount: Decimal, currency: Currency) -> Money {
    Money::new(amount, currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::dec;

    fn pln() -> Currency {
        Currency::new("PLN").unwrap()
    }

    fn line(sku: &str, quantity: Decimal, unit: Decimal, rate: u32) -> DraftLine {
        DraftLine {
            product_id: None,
            sku: sku.into(),
            description: sku.into(),
            quantity,
            unit_price: Money::new(unit, pln()),
            discount: Money::zero(pln()),
            tax_rate: TaxRate(Decimal::from(rate)),
            tax_code: None,
            warehouse: None,
        }
    }

    fn gross_total(lines: &[DraftLine], per_line: bool) -> Decimal {
        let nets = net_lines(lines, true, pln(), per_line);
        let amounts: Vec<(TaxRate, Decimal)> =
            nets.iter().map(|l| (l.rate, l.amount(pln()))).collect();
        predict_total(&amounts, pln(), per_line).0
    }

    #[test]
    fn tryton_rounds_half_to_even() {
        assert_eq!(round(dec!(0.125), pln()), dec!(0.12));
        assert_eq!(round(dec!(0.135), pln()), dec!(0.14));
        let (total, tax) = predict_total(
            &[
                (TaxRate(dec!(23)), dec!(10.005)),
                (TaxRate(dec!(23)), dec!(10.005)),
            ],
            pln(),
            false,
        );
        // Lines round to 10.00 each; tax on 20.00 per document.
        assert_eq!((total, tax), (dec!(24.60), dec!(4.60)));
        let (_, per_line) = predict_total(
            &[
                (TaxRate(dec!(23)), dec!(0.05)),
                (TaxRate(dec!(23)), dec!(0.05)),
            ],
            pln(),
            true,
        );
        let (_, per_document) = predict_total(
            &[
                (TaxRate(dec!(23)), dec!(0.05)),
                (TaxRate(dec!(23)), dec!(0.05)),
            ],
            pln(),
            false,
        );
        assert_eq!((per_line, per_document), (dec!(0.02), dec!(0.02)));
        let (_, per_line) = predict_total(
            &[
                (TaxRate(dec!(8)), dec!(0.25)),
                (TaxRate(dec!(8)), dec!(0.25)),
            ],
            pln(),
            true,
        );
        let (_, per_document) = predict_total(
            &[
                (TaxRate(dec!(8)), dec!(0.25)),
                (TaxRate(dec!(8)), dec!(0.25)),
            ],
            pln(),
            false,
        );
        assert_eq!((per_line, per_document), (dec!(0.04), dec!(0.04)));
    }

    #[test]
    fn gross_shop_prices_become_net_lines_that_add_up_to_what_was_paid() {
        // A demo basket: two T-shirts, a mug, a book at 5 %, courier at 23 %.
        let lines = vec![
            line("TSH-M-BLK", dec!(2), dec!(79.00), 23),
            line("MUG-330", dec!(1), dec!(39.90), 23),
            line("BOOK", dec!(1), dec!(64.90), 5),
            line("SHIP-COURIER", dec!(1), dec!(14.99), 23),
        ];
        let paid = dec!(277.79);
        assert_eq!(gross_total(&lines, false), paid);
        let nets = net_lines(&lines, true, pln(), false);
        assert_eq!(nets[2].unit_price, dec!(61.81));
        assert!(nets.iter().all(|l| l.unit_price.scale() <= 4));
    }

    #[test]
    fn a_gross_price_is_missed_only_where_no_net_price_reaches_it() {
        // At 23 % a cent of net adds 1.23 cents of gross, so about one gross price in
        // five has no net price at all; those (and only those) end a cent away, for the
        // flow's tolerance or rounding line to settle.
        let reachable = |gross: Decimal, rate: Decimal| {
            let start = round(gross * dec!(100) / (dec!(100) + rate), pln()) - dec!(0.05);
            (0..10)
                .map(|i| start + Decimal::new(i, 2))
                .any(|net| net + round(net * rate / dec!(100), pln()) == gross)
        };
        for rate in [23u32, 8, 5] {
            for per_line in [false, true] {
                for cents in 1..3000i64 {
                    let gross = Decimal::new(cents, 2);
                    let total = gross_total(&[line("A", dec!(1), gross, rate)], per_line);
                    if reachable(gross, Decimal::from(rate)) {
                        assert_eq!(total, gross, "{gross} at {rate}%");
                    } else {
                        assert_eq!((total - gross).abs(), dec!(0.01), "{gross} at {rate}%");
                    }
                }
            }
        }
        // Two lines at one rate share the tax: the basket reaches what one line could not.
        let pair = [
            line("A", dec!(1), dec!(0.02), 23),
            line("B", dec!(1), dec!(10.00), 23),
        ];
        assert_eq!(gross_total(&pair, false), dec!(10.02));
    }

    #[test]
    fn net_prices_pass_through_with_the_discount_spread_over_the_quantity() {
        let mut discounted = line("MUG-330", dec!(3), dec!(26.42), 23);
        discounted.discount = Money::new(dec!(6.00), pln());
        let nets = net_lines(&[discounted], false, pln(), false);
        assert_eq!(nets[0].unit_price, dec!(24.42));
        assert_eq!(nets[0].amount(pln()), dec!(73.26));
    }

    #[test]
    fn sale_states_map_to_kontors_words() {
        assert_eq!(
            sale_status("quotation", "none", false),
            OrderStatus::Pending
        );
        assert_eq!(
            sale_status("processing", "waiting", false),
            OrderStatus::Processing
        );
        assert_eq!(
            sale_status("processing", "partially shipped", false),
            OrderStatus::PartiallyShipped
        );
        assert_eq!(
            sale_status("processing", "sent", false),
            OrderStatus::Shipped
        );
        assert_eq!(sale_status("done", "sent", false), OrderStatus::Completed);
        assert_eq!(sale_status("done", "none", true), OrderStatus::Cancelled);
        assert_eq!(
            sale_status("cancelled", "none", false),
            OrderStatus::Cancelled
        );
    }

    #[test]
    fn vat_ids_are_found_however_they_were_typed() {
        assert_eq!(compact_vat("pl 526-000-12-46"), "PL5260001246");
        assert_eq!(vat_pattern("PL52"), "%P%L%5%2%");
        assert_eq!(
            category_path("Clothing / T-shirts"),
            vec!["Clothing", "T-shirts"]
        );
        assert_eq!(variant_option("-S-WHT"), "S-WHT");
    }
}
