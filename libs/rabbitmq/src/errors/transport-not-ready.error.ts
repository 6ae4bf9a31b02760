import { WarrenError } from './warren.error';

/** The Nest microservices transport was asked for its connection (`unwrap()`) before it had one. */
export class TransportNotReadyError extends WarrenError {
  constructor(
    /** Which side: the server before it listens, or the client before it connects. */
    readonly transport: 'WarrenServer' | 'WarrenClient',
  ) {
    super(
      'TRANSPORT_NOT_READY',
      transport === 'WarrenServer'
        ? 'WarrenServer is not listening yet; call unwrap() once the microservice has started (after app.listen() or app.startAllMicroservices()).'
        : 'WarrenClient is not connected yet; call connect() first.',
    );
  }
}
