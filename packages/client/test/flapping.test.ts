import { flappingSuite } from './flapping.ts';

flappingSuite('auto');
