/** Tests use the same broker helper as the bench and the chaos campaign. */
export { freePort, LocalBroker as TestBroker } from '../../scripts/support/broker.ts';
