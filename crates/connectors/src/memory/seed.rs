//! Demo data: a small merchant's catalogue (apparel and home goods, priced in PLN with
//! Polish VAT rates, stocked in a web-store warehouse and a showroom) and a generator of
//! plausible shop orders against it.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kontor_connector::ConnectorError;
use kontor_model::{
    Address, CountryCode, Currency, DeliveryMethod, Email, IncomingStock, LocalizedText, MediaRef,
    Money, Order, OrderCustomer, OrderLine, OrderStatus, OrderTotals, Payment, PaymentKind,
    PaymentState, Price, PriceKind, PriceScope, Product, ProductStatus, RequestedDocument,
    ShippingCharge, StockLevel, TaxRate, Variant, VatId,
};
use rust_decimal::Decimal;

use super::system::MemorySystem;

/// The web store's warehouse in the demo ERP.
pub const WEB_WAREHOUSE: &str = "MAIN";
/// The showroom's warehouse (store pickup).
pub const SHOWROOM_WAREHOUSE: &str = "SHOWROOM-KRK";

struct Family {
    code: &'static str,
    pl: &'static str,
    en: &'static str,
    category: [&'static str; 2],
    /// Option axis and its values (with SKU suffixes).
    axes: &'static [(&'static str, &'static [(&'static str, &'static str)])],
    price: &'static str,
    vat: u32,
}

const FAMILIES: &[Family] = &[
    Family {
        code: "TSH",
        pl: "Koszulka bawełniana",
        en: "Cotton T-shirt",
        category: ["Odzież", "Koszulki"],
        axes: &[
            ("size", &[("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL")]),
            (
                "colour",
                &[("biały", "WHT"), ("czarny", "BLK"), ("granatowy", "NVY")],
            ),
        ],
        price: "79.00",
        vat: 23,
    },
    Family {
        code: "HOOD",
        pl: "Bluza z kapturem",
        en: "Hooded sweatshirt",
        category: ["Odzież", "Bluzy"],
        axes: &[
            ("size", &[("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL")]),
            ("colour", &[("szary", "GRY"), ("oliwkowy", "OLV")]),
        ],
        price: "199.00",
        vat: 23,
    },
    Family {
        code: "RUN",
        pl: "Buty do biegania",
        en: "Running shoes",
        category: ["Obuwie", "Sportowe"],
        axes: &[(
            "size",
            &[
                ("40", "40"),
                ("41", "41"),
                ("42", "42"),
                ("43", "43"),
                ("44", "44"),
                ("45", "45"),
            ],
        )],
        price: "349.00",
        vat: 23,
    },
    Family {
        code: "MUG",
        pl: "Kubek ceramiczny",
        en: "Ceramic mug",
        category: ["Dom", "Kuchnia"],
        axes: &[("volume", &[("330 ml", "330"), ("450 ml", "450")])],
        price: "39.90",
        vat: 23,
    },
    Family {
        code: "BAG",
        pl: "Plecak miejski",
        en: "City backpack",
        category: ["Akcesoria", "Plecaki"],
        axes: &[("colour", &[("czarny", "BLK"), ("musztardowy", "MST")])],
        price: "249.00",
        vat: 23,
    },
    Family {
        code: "BEANIE",
        pl: "Czapka zimowa",
        en: "Winter beanie",
        category: ["Akcesoria", "Czapki"],
        axes: &[(
            "colour",
            &[
                ("czerwony", "RED"),
                ("grafitowy", "GRA"),
                ("kremowy", "CRM"),
            ],
        )],
        price: "59.00",
        vat: 23,
    },
    Family {
        code: "SOCK",
        pl: "Skarpety sportowe 3-pak",
        en: "Sport socks, 3 pairs",
        category: ["Odzież", "Skarpety"],
        axes: &[("size", &[("39–42", "39"), ("43–46", "43")])],
        price: "29.90",
        vat: 23,
    },
    Family {
        code: "BOOK",
        pl: "Książka „Kuchnia polska”",
        en: "Book: Polish Cooking",
        category: ["Książki", "Kulinaria"],
        axes: &[],
        price: "64.90",
        vat: 5,
    },
    Family {
        code: "BLANKET",
        pl: "Koc z wełny",
        en: "Wool blanket",
        category: ["Dom", "Tekstylia"],
        axes: &[("colour", &[("beżowy", "BEI"), ("butelkowa zieleń", "GRN")])],
        price: "289.00",
        vat: 23,
    },
    Family {
        code: "BOTTLE",
        pl: "Butelka termiczna",
        en: "Thermal bottle",
        category: ["Akcesoria", "Butelki"],
        axes: &[("volume", &[("500 ml", "500"), ("750 ml", "750")])],
        price: "89.00",
        vat: 23,
    },
    Family {
        code: "GLOVE",
        pl: "Rękawiczki skórzane",
        en: "Leather gloves",
        category: ["Akcesoria", "Rękawiczki"],
        axes: &[("size", &[("S", "S"), ("M", "M"), ("L", "L")])],
        price: "149.00",
        vat: 23,
    },
    Family {
        code: "HONEY",
        pl: "Miód wielokwiatowy 400 g",
        en: "Wildflower honey 400 g",
        category: ["Spiżarnia", "Miody"],
        axes: &[],
        price: "32.50",
        vat: 5,
    },
];

/// An EAN-13 with the Polish prefix and a correct check digit.
fn ean13(n: u64) -> String {
    let body = format!("590{:09}", n % 1_000_000_000);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn combinations(axes: &[(&str, &[(&str, &str)])]) -> Vec<Vec<(String, String, String)>> {
    let mut combos: Vec<Vec<(String, String, String)>> = vec![vec![]];
    for (axis, values) in axes {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |(value, suffix)| {
                    let mut next = combo.clone();
                    next.push((
                        (*axis).to_owned(),
                        (*value).to_owned(),
                        (*suffix).to_owned(),
                    ));
                    next
                })
            })
            .collect();
    }
    combos
}

fn decimal(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_default()
}

/// The demo catalogue with base prices (gross, PLN) and stock in both warehouses.
pub struct DemoCatalogue {
    pub products: Vec<Product>,
    pub prices: Vec<Price>,
    pub stock: Vec<StockLevel>,
}

pub fn demo_catalogue(seed: u64) -> DemoCatalogue {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut products = Vec::new();
    let mut prices = Vec::new();
    let mut stock = Vec::new();
    let mut ean = 100_000_u64;
    for family in FAMILIES {
        let mut variants = Vec::new();
        for combo in combinations(family.axes) {
            let sku = std::iter::once(family.code.to_owned())
                .chain(combo.iter().map(|(_, _, suffix)| suffix.clone()))
                .collect::<Vec<_>>()
                .join("-");
            ean += 1;
            variants.push(Variant {
                sku: sku.clone(),
                ean: Some(ean13(ean)),
                options: combo
                    .iter()
                    .map(|(axis, value, _)| (axis.clone(), value.clone()))
                    .collect(),
                name: None,
                images: vec![],
                weight_kg: Some(Decimal::new(rng.i64(2..30), 1)),
            });
            prices.push(Price {
                sku: sku.clone(),
                amount: Money::new(decimal(family.price), Currency::PLN),
                includes_tax: true,
                scope: PriceScope::Base,
                kind: PriceKind::Regular,
                min_quantity: Decimal::ONE,
                valid_from: None,
                valid_until: None,
            });
            for warehouse in [WEB_WAREHOUSE, SHOWROOM_WAREHOUSE] {
                let on_hand = if warehouse == WEB_WAREHOUSE {
                    rng.i64(0..60)
                } else {
                    rng.i64(0..8)
                };
                let incoming = if on_hand < 5 && warehouse == WEB_WAREHOUSE {
                    vec![IncomingStock {
                        quantity: Decimal::from(rng.i64(10..40)),
                        expected_on: NaiveDate::from_ymd_opt(2026, 12, 1 + rng.u32(0..20))
                            .unwrap_or_default(),
                    }]
                } else {
                    vec![]
                };
                stock.push(StockLevel {
                    sku: sku.clone(),
                    warehouse: warehouse.to_owned(),
                    on_hand: Decimal::from(on_hand),
                    reserved: Decimal::from(rng.i64(0..3).min(on_hand)),
                    incoming,
                });
            }
        }
        products.push(Product {
            code: family.code.to_owned(),
            name: LocalizedText::new("pl", family.pl).with("en", family.en),
            description: LocalizedText::new(
                "pl",
                format!("{} — jakość, która zostaje na lata.", family.pl),
            )
            .with("en", format!("{} — made to last.", family.en)),
            categories: vec![family.category.iter().map(|c| (*c).to_owned()).collect()],
            tags: vec!["demo".to_owned()],
            attributes: BTreeMap::from([("brand".to_owned(), "Kontor Goods".to_owned())]),
            options: family
                .axes
                .iter()
                .map(|(axis, _)| (*axis).to_owned())
                .collect(),
            images: vec![MediaRef {
                url: format!(
                    "https://cdn.example.com/demo/{}.jpg",
                    family.code.to_lowercase()
                ),
                alt: Some(family.en.to_owned()),
                content_type: Some("image/jpeg".to_owned()),
            }],
            attachments: vec![],
            variants,
            tax_rate: Some(TaxRate(Decimal::from(family.vat))),
            status: ProductStatus::Active,
            updated_at: None,
        });
    }
    DemoCatalogue {
        products,
        prices,
        stock,
    }
}

/// Fills an ERP with the demo catalogue, prices and stock.
pub fn seed_demo(system: &MemorySystem, seed: u64) -> Result<(), ConnectorError> {
    let catalogue = demo_catalogue(seed);
    for product in catalogue.products {
        system.put_product(product)?;
    }
    for price in catalogue.prices {
        system.put_price(price)?;
    }
    for level in catalogue.stock {
        system.put_stock(level)?;
    }
    Ok(())
}

/// Something a shopper can put in the basket.
#[derive(Debug, Clone)]
pub struct SellableItem {
    pub sku: String,
    pub name: String,
    pub gross_price: Money,
    pub tax_rate: TaxRate,
}

impl SellableItem {
    /// What the ERP sells: every variant with a base price.
    pub fn from_system(erp: &MemorySystem) -> Vec<SellableItem> {
        let prices: BTreeMap<String, Money> = erp
            .prices()
            .into_iter()
            .filter(|p| p.scope == PriceScope::Base && p.includes_tax)
            .map(|p| (p.sku, p.amount))
            .collect();
        erp.products()
            .into_iter()
            .flat_map(|product| {
                let name = product.name.get("pl").unwrap_or_default().to_owned();
                let rate = product.tax_rate.unwrap_or(TaxRate(Decimal::from(23)));
                let prices = &prices;
                product.variants.into_iter().filter_map(move |v| {
                    let price = *prices.get(&v.sku)?;
                    let options: Vec<_> = v.options.values().cloned().collect();
                    Some(SellableItem {
                        name: if options.is_empty() {
                            name.clone()
                        } else {
                            format!("{name} ({})", options.join(", "))
                        },
                        sku: v.sku,
                        gross_price: price,
                        tax_rate: rate,
                    })
                })
            })
            .collect()
    }
}

const FIRST_NAMES: &[&str] = &[
    "Anna",
    "Piotr",
    "Katarzyna",
    "Tomasz",
    "Magdalena",
    "Michał",
    "Agnieszka",
    "Paweł",
    "Joanna",
    "Krzysztof",
    "Zofia",
    "Jakub",
];
const LAST_NAMES: &[&str] = &[
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Wójcik",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
];
const CITIES: &[(&str, &str)] = &[
    ("Warszawa", "00-950"),
    ("Kraków", "31-042"),
    ("Gdańsk", "80-831"),
    ("Wrocław", "50-077"),
    ("Poznań", "61-772"),
    ("Łódź", "90-136"),
];
const STREETS: &[&str] = &[
    "ul. Długa",
    "ul. Floriańska",
    "ul. Piotrkowska",
    "al. Jerozolimskie",
    "ul. Świętojańska",
    "ul. Ruska",
];
const COMPANIES: &[(&str, &str)] = &[
    ("Kawiarnia Pod Lipą s.c.", "PL5260001246"),
    ("Biuro Rachunkowe Bilans", "PL7792433421"),
    ("Hotel Wisła Sp. z o.o.", "PL6762468118"),
];
const PAYMENT_METHODS: &[&str] = &["card", "blik", "bank_transfer", "cash_on_delivery"];

/// Makes plausible shop orders: a few lines, courier, locker or store pickup, mostly paid,
/// sometimes a business asking for a VAT invoice. Totals are consistent (gross prices).
pub struct OrderGenerator {
    rng: fastrand::Rng,
    items: Vec<SellableItem>,
}

impl OrderGenerator {
    pub fn new(seed: u64, items: Vec<SellableItem>) -> Self {
        OrderGenerator {
            rng: fastrand::Rng::with_seed(seed),
            items,
        }
    }

    /// A new order placed at `at`; its id and number are left for the shop to assign.
    pub fn next_order(&mut self, at: DateTime<Utc>) -> Option<Order> {
        if self.items.is_empty() {
            return None;
        }
        let rng = &mut self.rng;
        let first = FIRST_NAMES[rng.usize(..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.usize(..LAST_NAMES.len())];
        let name = format!("{first} {last}");
        let (city, postal_code) = CITIES[rng.usize(..CITIES.len())];
        let company = (rng.u8(..10) < 2).then(|| COMPANIES[rng.usize(..COMPANIES.len())]);
        let email = Email::new(&format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
                .replace(['ś', 'ń', 'ą', 'ł', 'ó', 'ż', 'ź', 'ć', 'ę'], "x"),
            rng.u8(..40)
        ))
        .ok();
        let address = Address {
            name: name.clone(),
            company: company.map(|(c, _)| c.to_owned()),
            street: format!(
                "{} {}",
                STREETS[rng.usize(..STREETS.len())],
                rng.u16(1..120)
            ),
            street2: None,
            postal_code: postal_code.to_owned(),
            city: city.to_owned(),
            region: None,
            country: CountryCode::new("PL").ok()?,
            phone: Some(format!(
                "+48 600 {:03} {:03}",
                rng.u16(..1000),
                rng.u16(..1000)
            )),
        };
        let mut lines = Vec::new();
        for i in 0..rng.usize(1..=4) {
            let item = &self.items[rng.usize(..self.items.len())];
            if lines.iter().any(|l: &OrderLine| l.sku == item.sku) {
                continue;
            }
            let quantity = Decimal::from(rng.u8(1..=3));
            let discount = if rng.u8(..10) == 0 {
                item.gross_price
                    .checked_mul(quantity)
                    .ok()?
                    .checked_mul(Decimal::new(1, 1))
                    .ok()?
                    .rounded()
            } else {
                Money::zero(Currency::PLN)
            };
            lines.push(OrderLine {
                id: (i + 1).to_string(),
                sku: item.sku.clone(),
                name: item.name.clone(),
                quantity,
                unit_price: item.gross_price,
                discount,
                tax_rate: item.tax_rate,
            });
        }
        let (delivery, shipping) = match rng.u8(..10) {
            0..=5 => (
                DeliveryMethod::Shipping {
                    method: "courier".into(),
                    carrier: Some("DPD".into()),
                },
                Some(ShippingCharge {
                    method: "courier".into(),
                    amount: Money::new(Decimal::new(1499, 2), Currency::PLN),
                    tax_rate: TaxRate(Decimal::from(23)),
                }),
            ),
            6..=8 => (
                DeliveryMethod::PickupPoint {
                    method: "parcel_locker".into(),
                    carrier: Some("InPost".into()),
                    point_id: format!("KRA{:02}M", rng.u8(1..99)),
                    point_name: None,
                },
                Some(ShippingCharge {
                    method: "parcel_locker".into(),
                    amount: Money::new(Decimal::new(999, 2), Currency::PLN),
                    tax_rate: TaxRate(Decimal::from(23)),
                }),
            ),
            _ => (
                DeliveryMethod::StorePickup {
                    location: SHOWROOM_WAREHOUSE.into(),
                },
                None,
            ),
        };
        let payment_method = PAYMENT_METHODS[rng.usize(..PAYMENT_METHODS.len())];
        let payment_state = if payment_method == "cash_on_delivery" {
            PaymentState::Pending
        } else {
            PaymentState::Paid
        };
        let placed_at = at - Duration::seconds(i64::from(rng.u8(..30)));
        let mut order = Order {
            id: String::new(),
            number: String::new(),
            placed_at,
            updated_at: placed_at,
            currency: Currency::PLN,
            prices_include_tax: true,
            customer: OrderCustomer {
                reference: (rng.bool()).then(|| format!("shop-customer-{}", rng.u16(1..500))),
                email,
                name,
                phone: address.phone.clone(),
                company: company.map(|(c, _)| c.to_owned()),
                vat_id: company.and_then(|(_, vat)| VatId::new(vat).ok()),
            },
            billing_address: Some(address.clone()),
            shipping_address: delivery.needs_shipping_address().then_some(address),
            lines,
            shipping,
            discounts: vec![],
            totals: OrderTotals {
                total: Money::zero(Currency::PLN),
                tax: Money::zero(Currency::PLN),
            },
            payment_state,
            payment_method: Some(payment_method.to_owned()),
            payments: vec![],
            delivery,
            status: OrderStatus::Processing,
            source_status: Some("processing".to_owned()),
            requested_document: if company.is_some() {
                RequestedDocument::Invoice
            } else {
                RequestedDocument::Receipt
            },
            note: None,
        };
        order.totals = order.computed_totals().ok()?;
        if order.payment_state == PaymentState::Paid {
            order.payments.push(Payment {
                order_number: String::new(),
                kind: PaymentKind::Capture,
                amount: order.totals.total,
                method: payment_method.to_owned(),
                transaction_id: format!("txn_{:016x}", rng.u64(..)),
                at: placed_at,
            });
        }
        Some(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kontor_model::Validate;

    #[test]
    fn the_demo_catalogue_is_valid() {
        let catalogue = demo_catalogue(7);
        assert!(catalogue.products.len() >= 12);
        for product in &catalogue.products {
            product
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", product.code));
        }
        let variants: usize = catalogue.products.iter().map(|p| p.variants.len()).sum();
        assert_eq!(catalogue.prices.len(), variants);
        assert_eq!(catalogue.stock.len(), variants * 2);
    }

    #[test]
    fn generated_orders_are_valid_and_their_totals_add_up() {
        let system = MemorySystem::new("erp");
        seed_demo(&system, 1).unwrap();
        let mut generator = OrderGenerator::new(3, SellableItem::from_system(&system));
        for _ in 0..200 {
            let mut order = generator.next_order(Utc::now()).unwrap();
            order.id = "1".into();
            order.number = "#1".into();
            order
                .validate()
                .unwrap_or_else(|e| panic!("{e}: {order:?}"));
            assert_eq!(order.computed_totals().unwrap(), order.totals);
        }
    }
}
