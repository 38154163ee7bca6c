FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY gen ./gen
COPY src ./src
ENV PORT=8080
EXPOSE 8080
USER node
CMD ["node", "--import", "tsx", "src/main.ts"]
