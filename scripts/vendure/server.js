// Starts the Vendure server Kontor's tests drive, configured from the environment:
//   VENDURE_PORT, VENDURE_DB (a PostgreSQL database on 127.0.0.1:5432),
//   VENDURE_SUPERADMIN_PASSWORD, VENDURE_SYNCHRONIZE=1 to create the schema,
//   VENDURE_ASSET_DIR for uploaded images (default: a folder beside the process),
//   KONTOR_WEBHOOK_URL and KONTOR_WEBHOOK_SECRET for Kontor's plugin (optional).
// Modules come from the cache scripts/vendure/install fills (NODE_PATH).
const path = require('path');
const { bootstrap, DefaultJobQueuePlugin, dummyPaymentHandler } = require('@vendure/core');
const { AssetServerPlugin } = require('@vendure/asset-server-plugin');
const { KontorWebhookPlugin } = require(
    path.join(__dirname, '..', '..', 'integrations', 'vendure', 'kontor-webhook-plugin.js'),
);

const env = name => {
    const value = process.env[name];
    if (!value) {
        console.error(`${name} is not set`);
        process.exit(2);
    }
    return value;
};

const plugins = [
    DefaultJobQueuePlugin,
    AssetServerPlugin.init({
        route: 'assets',
        assetUploadDir: process.env.VENDURE_ASSET_DIR || path.join(process.cwd(), 'vendure-assets'),
    }),
];
if (process.env.KONTOR_WEBHOOK_URL) {
    plugins.push(
        KontorWebhookPlugin.init({
            url: process.env.KONTOR_WEBHOOK_URL,
            secret: env('KONTOR_WEBHOOK_SECRET'),
        }),
    );
}

bootstrap({
    apiOptions: {
        hostname: '127.0.0.1',
        port: Number(env('VENDURE_PORT')),
        adminApiPath: 'admin-api',
        shopApiPath: 'shop-api',
    },
    authOptions: {
        tokenMethod: ['bearer', 'cookie'],
        superadminCredentials: { identifier: 'superadmin', password: env('VENDURE_SUPERADMIN_PASSWORD') },
        cookieOptions: { secret: 'kontor-test-cookie-secret' },
    },
    dbConnectionOptions: {
        type: 'postgres',
        host: '127.0.0.1',
        port: 5432,
        username: process.env.VENDURE_DB_USER || 'postgres',
        database: env('VENDURE_DB'),
        synchronize: process.env.VENDURE_SYNCHRONIZE === '1',
        logging: false,
        // Tests run many servers at once against one PostgreSQL: keep each pool small.
        extra: { max: 4 },
    },
    paymentOptions: { paymentMethodHandlers: [dummyPaymentHandler] },
    plugins,
}).catch(error => {
    console.error(error);
    process.exit(1);
});
