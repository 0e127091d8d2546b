// Gives a fresh Vendure what a shop needs before it can sell, through the Admin API:
// Poland as a country and zone, tax categories with Polish VAT (23, 8, 5, 0 %), the
// default channel in PLN with the zone as tax and shipping zone, a second stock location
// ("Showroom"), a courier shipping method (15.00 net) and a card payment method that
// settles at once. The catalogue is left empty: Kontor fills it from the ERP.
//   node seed.js <admin-api url> <superadmin password>
const [url, password] = process.argv.slice(2);
let token = null;

async function gql(query, variables = {}) {
    const response = await fetch(url, {
        method: 'POST',
        headers: {
            'Content-Type': 'application/json',
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
    });
    token = response.headers.get('vendure-auth-token') || token;
    const body = await response.json();
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    for (const value of Object.values(body.data)) {
        if (value && value.errorCode) throw new Error(`${value.errorCode}: ${value.message}`);
    }
    return body.data;
}

async function main() {
    await gql(`mutation($password: String!) {
        login(username: "superadmin", password: $password) { ... on CurrentUser { id } ... on ErrorResult { errorCode message } }
    }`, { password });
    const { createCountry: pl } = await gql(`mutation {
        createCountry(input: { code: "PL", enabled: true, translations: [{ languageCode: en, name: "Poland" }] }) { id }
    }`);
    const { createZone: zone } = await gql(`mutation($pl: ID!) {
        createZone(input: { name: "Poland", memberIds: [$pl] }) { id }
    }`, { pl: pl.id });
    const rates = [['Standard', 23, true], ['Reduced 8', 8, false], ['Reduced 5', 5, false], ['Zero', 0, false]];
    for (const [name, value, isDefault] of rates) {
        const { createTaxCategory: category } = await gql(`mutation($name: String!, $isDefault: Boolean!) {
            createTaxCategory(input: { name: $name, isDefault: $isDefault }) { id }
        }`, { name, isDefault });
        await gql(`mutation($name: String!, $value: Float!, $category: ID!, $zone: ID!) {
            createTaxRate(input: { name: $name, enabled: true, value: $value, categoryId: $category, zoneId: $zone }) { id }
        }`, { name: `VAT ${value}%`, value, category: category.id, zone: zone.id });
    }
    const { activeChannel } = await gql(`{ activeChannel { id } }`);
    await gql(`mutation($id: ID!, $zone: ID!) {
        updateChannel(input: { id: $id, defaultTaxZoneId: $zone, defaultShippingZoneId: $zone,
            defaultCurrencyCode: PLN, availableCurrencyCodes: [PLN], pricesIncludeTax: false }) {
            ... on Channel { id } ... on ErrorResult { errorCode message }
        }
    }`, { id: activeChannel.id, zone: zone.id });
    await gql(`mutation { createStockLocation(input: { name: "Showroom" }) { id } }`);
    await gql(`mutation {
        createShippingMethod(input: {
            code: "courier",
            fulfillmentHandler: "manual-fulfillment",
            checker: { code: "default-shipping-eligibility-checker", arguments: [{ name: "orderMinimum", value: "0" }] },
            calculator: { code: "default-shipping-calculator", arguments: [
                { name: "rate", value: "1500" }, { name: "includesTax", value: "exclude" },
                { name: "taxRate", value: "23" } ] },
            translations: [{ languageCode: en, name: "Courier", description: "" }]
        }) { id }
    }`);
    await gql(`mutation {
        createPaymentMethod(input: {
            code: "card", enabled: true,
            handler: { code: "dummy-payment-handler", arguments: [{ name: "automaticSettle", value: "true" }] },
            translations: [{ languageCode: en, name: "Card" }]
        }) { id }
    }`);
}

main().catch(error => {
    console.error(error);
    process.exit(1);
});
