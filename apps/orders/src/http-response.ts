/** The two methods of the Express response the controllers use (the sample does not depend on @types/express). */
export interface HttpResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}
