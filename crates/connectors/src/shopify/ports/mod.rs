//! The ports of a Shopify shop, one file per area. Returns are read in `orders` (a
//! refund is a change of its order).

mod catalogue;
mod customers;
mod fulfilment;
mod orders;
mod prices;
mod stock;
