// Kontor's Vendure plugin: tells Kontor when an order is placed or changes state, or a
// refund settles, so that Kontor need not wait for its next poll. Vendure sends no
// webhooks by itself.
//
// Each event is POSTed as JSON to Kontor's webhook endpoint for this connection,
// signed with HMAC-SHA256 over "<timestamp>.<body>" in the header
//   X-Kontor-Signature: t=<unix seconds>,v1=<hex digest>
// Only the order's id and code travel: Kontor reads the order itself, so a late,
// repeated or lost notice does no harm, and Kontor's polling remains the fallback.
//
// Plain JavaScript (no build step): in a Vendure config,
//   const { KontorWebhookPlugin } = require('./kontor-webhook-plugin');
//   plugins: [KontorWebhookPlugin.init({ url: 'https://kontor.example/hooks/acme/shop', secret: '…' })]

const crypto = require('crypto');
const {
    EventBus,
    Logger,
    OrderPlacedEvent,
    OrderStateTransitionEvent,
    PaymentStateTransitionEvent,
    PluginCommonModule,
    RefundStateTransitionEvent,
    VendurePlugin,
} = require('@vendure/core');

const loggerCtx = 'KontorWebhookPlugin';
const ATTEMPTS = 3;

function sign(secret, timestamp, body) {
    const digest = crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    return `t=${timestamp},v1=${digest}`;
}

class KontorWebhookPlugin {
    static options = { url: '', secret: '', timeoutMs: 5000 };

    static init(options) {
        KontorWebhookPlugin.options = { ...KontorWebhookPlugin.options, ...options };
        return KontorWebhookPlugin;
    }

    constructor(eventBus) {
        this.eventBus = eventBus;
    }

    onApplicationBootstrap() {
        const { url, secret } = KontorWebhookPlugin.options;
        if (!url || !secret) {
            Logger.warn('No url or secret configured; Kontor will not be notified', loggerCtx);
            return;
        }
        const notify = (event, order, detail) => {
            // A basket is not an order yet: Kontor only cares once it has been placed.
            if (!order.orderPlacedAt && event !== 'order.placed') return;
            return this.send({
                id: crypto.randomUUID(),
                event,
                order_id: String(order.id),
                order_code: order.code,
                ...detail,
                at: new Date().toISOString(),
            });
        };
        this.eventBus.ofType(OrderPlacedEvent).subscribe(e => notify('order.placed', e.order, {}));
        this.eventBus
            .ofType(OrderStateTransitionEvent)
            .subscribe(e => notify('order.state', e.order, { from: e.fromState, to: e.toState }));
        this.eventBus
            .ofType(PaymentStateTransitionEvent)
            .subscribe(e => notify('payment.state', e.order, { from: e.fromState, to: e.toState }));
        this.eventBus
            .ofType(RefundStateTransitionEvent)
            .subscribe(e => notify('refund.state', e.order, { from: e.fromState, to: e.toState }));
    }

    async send(notice) {
        const { url, secret, timeoutMs } = KontorWebhookPlugin.options;
        const body = JSON.stringify(notice);
        for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
                const timestamp = Math.floor(Date.now() / 1000);
                const response = await fetch(url, {
                    method: 'POST',
                    headers: {
                        'Content-Type': 'application/json',
                        'X-Kontor-Signature': sign(secret, timestamp, body),
                    },
                    body,
                    signal: AbortSignal.timeout(timeoutMs),
                });
                if (response.ok) return;
                // A refusal (bad signature, unknown connection) will not get better by retrying.
                if (response.status < 500 && response.status !== 429) {
                    Logger.error(`Kontor refused ${notice.event} for ${notice.order_code}: ${response.status}`, loggerCtx);
                    return;
                }
            } catch (error) {
                Logger.verbose(`Kontor unreachable (attempt ${attempt}): ${error}`, loggerCtx);
            }
            await new Promise(resolve => setTimeout(resolve, 500 * 2 ** attempt));
        }
        Logger.warn(`Gave up notifying Kontor of ${notice.event} for ${notice.order_code}; its poll will pick it up`, loggerCtx);
    }
}

// Without TypeScript's decorator metadata, Nest must be told what to inject.
Reflect.defineMetadata('design:paramtypes', [EventBus], KontorWebhookPlugin);
VendurePlugin({ imports: [PluginCommonModule], compatibility: '^3.0.0' })(KontorWebhookPlugin);

module.exports = { KontorWebhookPlugin, sign };
